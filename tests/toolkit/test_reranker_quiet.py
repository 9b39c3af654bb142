"""14.0: starting the reranker's training prints no "Converting ... to CrossEncoder" line."""

from __future__ import annotations

import pytest

from labkit.models.reranker import DEFAULT_RECIPE, _new_cross_encoder


def test_new_cross_encoder_is_quiet(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    model = _new_cross_encoder(DEFAULT_RECIPE)
    assert model.num_labels == 1
    out, err = capfd.readouterr()
    assert "Converting" not in out + err + caplog.text
