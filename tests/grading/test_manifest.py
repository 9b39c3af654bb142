"""Lab manifests: validation with one-line errors, discovery, the repo root, unknown lab ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.datasets.paths import relative_path
from labkit.errors import LabkitError
from labkit.grading.manifest import (
    ManifestError,
    compute_tests_hash,
    discover_labs,
    find_lab,
    load_manifest,
    repo_root,
)
from labkit.grading.runner import _display as runner_display

GOOD = """
id = "demo"
title = "Demo lab"
phase = 2
order = 3
files = ["demo.py", "data/*.json"]

[limits]
test_timeout = 5
run_timeout = 60
memory_mb = 512
"""


def _write(root: Path, lab_id: str, text: str) -> Path:
    folder = root / "graders" / lab_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lab.toml").write_text(text)
    return folder / "lab.toml"


def test_a_valid_manifest_loads(tmp_path: Path) -> None:
    lab = load_manifest(_write(tmp_path, "demo", GOOD))
    assert (lab.id, lab.title, lab.phase, lab.order) == ("demo", "Demo lab", 2, 3)
    assert lab.files == ("demo.py", "data/*.json")
    assert lab.limits.test_timeout == 5.0
    assert lab.limits.memory_mb == 512
    assert lab.limits.file_size_mb == 32  # defaults fill the rest
    assert isinstance(lab.seed, int)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("title", 'title = "Demo lab"\ntitel = "typo"'), "unknown key 'titel'"),
        (("test_timeout = 5", "test_timout = 5"), "unknown key 'test_timout' in [limits]"),
        (('files = ["demo.py", "data/*.json"]', "files = []"), "files must be a non-empty list"),
        (('files = ["demo.py", "data/*.json"]', 'files = ["../x.py"]'), "relative path inside"),
        (('files = ["demo.py", "data/*.json"]', 'files = ["conftest.py"]'), "reserved name"),
        (("memory_mb = 512", "memory_mb = -1"), "limits.memory_mb must be positive"),
        (("memory_mb = 512", 'memory_mb = "lots"'), "limits.memory_mb must be a number"),
        (("run_timeout = 60", "run_timeout = 1"), "test_timeout must not exceed"),
        (('id = "demo"', 'id = "other"'), "must match its folder name"),
        (("order = 3", "order = [3"), "not valid TOML"),
    ],
)
def test_invalid_manifests_fail_with_one_clear_line(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    text = GOOD.replace(old, new, 1) if old != "title" else GOOD.replace('title = "Demo lab"', new)
    path = _write(tmp_path, "demo", text)
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "lab.toml" in str(caught.value)


def test_manifest_errors_name_the_file_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "demo", GOOD.replace("order = 3", "order = [3"))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(ManifestError, match=r"^\.\./graders/demo/lab\.toml: not valid TOML"):
        load_manifest(path)


def test_paths_are_shown_from_the_first_base_that_holds_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    course, other = tmp_path / "course", tmp_path / "other"
    (course / "graders").mkdir(parents=True)
    (course / "pyproject.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    lab, dotted = course / "labs" / "calc", course / "..calc"
    assert relative_path(lab, course, tmp_path) == Path("labs/calc")
    assert relative_path(other, None, course, tmp_path) == Path("other")
    assert relative_path(other, course) is None
    assert relative_path(other, course, outside=True) == Path("../other")
    assert relative_path(lab) == Path("course/labs/calc")  # default: the working directory
    # A name starting with ".." is inside, not above: the report used to show it absolute.
    assert relative_path(dotted, course) == Path("..calc")
    assert runner_display(dotted, None) == "..calc"
    assert runner_display(lab, None) == "labs/calc"  # the course found above the folder
    assert runner_display(other, None) == "other"  # else the working directory
    assert runner_display(other, course / "labs") == "other"
    monkeypatch.chdir(course)
    assert runner_display(other, None) == str(other)  # else absolute


def test_discovery_orders_by_phase_then_order(tmp_path: Path) -> None:
    for lab_id, phase, order in [("b", 2, 1), ("a", 1, 2), ("c", 1, 1)]:
        text = GOOD.replace('id = "demo"', f'id = "{lab_id}"').replace(
            "phase = 2", f"phase = {phase}"
        )
        _write(tmp_path, lab_id, text.replace("order = 3", f"order = {order}"))
    assert [lab.id for lab in discover_labs(tmp_path)] == ["c", "a", "b"]


def test_unknown_lab_lists_the_known_ids(tmp_path: Path) -> None:
    _write(tmp_path, "demo", GOOD)
    with pytest.raises(LabkitError, match=r"unknown lab 'nope'; known labs: demo$"):
        find_lab(tmp_path, "nope")


def test_repo_root_from_env_or_by_walking_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "graders").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    deep = tmp_path / "labs" / "x"
    deep.mkdir(parents=True)
    monkeypatch.delenv("LABKIT_ROOT", raising=False)
    assert repo_root(deep) == tmp_path.resolve()
    monkeypatch.setenv("LABKIT_ROOT", str(tmp_path))
    assert repo_root(Path("/")) == tmp_path.resolve()
    monkeypatch.delenv("LABKIT_ROOT")
    with pytest.raises(LabkitError, match="set LABKIT_ROOT"):
        repo_root(Path("/"))


def test_allow_list_skips_symlinks_and_reserved_names(tmp_path: Path) -> None:
    lab = load_manifest(_write(tmp_path, "demo", GOOD.replace('"data/*.json"', '"*.py"')))
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "demo.py").write_text("x = 1")
    (sub / "conftest.py").write_text("boom")
    (sub / "sitecustomize.py").write_text("boom")
    (sub / "link.py").symlink_to(tmp_path / "graders" / "demo" / "lab.toml")
    assert [rel for _, rel in lab.learner_files(sub)] == ["demo.py"]


def test_tests_hash_changes_with_any_grader_file(tmp_path: Path) -> None:
    lab = load_manifest(_write(tmp_path, "demo", GOOD))
    test_file = tmp_path / "graders" / "demo" / "test_demo.py"
    test_file.write_text("a = 1\n")
    first = compute_tests_hash(lab)
    test_file.write_text("a = 2\n")
    assert compute_tests_hash(lab) != first
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_h.py").write_text("")
    assert compute_tests_hash(lab, [hidden]) != compute_tests_hash(lab)
