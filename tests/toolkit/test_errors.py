"""labkit.errors.raised_in: the learner's line an error came from, not the library's."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from labkit.errors import raised_in
from labkit.notebook import stub_message


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_innermost_frame_in_the_folder_wins(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "store.py").write_text(
        "import json\n\n\nclass Store:\n    def load(self, text):\n        return json.loads(text)\n"
        "\n    def todo(self):\n        raise NotImplementedError('not implemented yet — see task 2')\n"
    )
    store = _load(lab / "store.py").Store()
    with pytest.raises(json.JSONDecodeError) as bad_json:
        store.load("{")
    place = raised_in(bad_json.value, lab)
    assert place is not None
    assert (place.file.name, place.line, place.function) == ("store.py", 6, "Store.load")
    innermost = raised_in(bad_json.value)
    assert innermost is not None
    assert innermost.file.name == "decoder.py", "without a folder: the library's own frame"
    with pytest.raises(NotImplementedError) as stub:
        store.todo()
    said = stub_message(stub.value, lab)
    assert said == "store.py: Store.todo() is not implemented yet — see task 2"
    assert raised_in(stub.value, tmp_path / "elsewhere") is None
