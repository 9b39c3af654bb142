"""``labkit new-lab``: a scaffolded lab is a real lab — its grader fails on the starter and passes
on the reference, and the course check passes on it — and bad or taken ids are refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labkit.cli import main
from labkit.grading.manifest import discover_labs, load_manifest, repo_root
from labkit.grading.runner import grade
from labkit.scaffold.course_check import check_lab
from labkit.scaffold.new_lab import NewLabError, module_name, new_lab

ROOT = repo_root(Path(__file__).resolve().parent)


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """The course layout with every existing lab's manifest (all that placing a new lab reads)."""
    for manifest in ROOT.glob("graders/*/lab.toml"):
        target = tmp_path / "graders" / manifest.parent.name / "lab.toml"
        target.parent.mkdir(parents=True)
        shutil.copy(manifest, target)
    (tmp_path / "labs").mkdir()
    (tmp_path / "solutions").mkdir()
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    return tmp_path


def test_scaffolded_grader_fails_the_starter_and_passes_the_reference(course: Path) -> None:
    made = new_lab(course, "demo-01", title="Demo")
    assert {p.as_posix() for p in made.files} == {
        "labs/demo-01/README.md",
        "labs/demo-01/demo.py",
        "solutions/demo-01/demo.py",
        "graders/demo-01/lab.toml",
        "graders/demo-01/test_demo.py",
        "graders/demo-01/hints.toml",
    }
    lab = load_manifest(course / "graders" / "demo-01" / "lab.toml")
    others = discover_labs(ROOT)
    assert lab.order == max(other.order for other in others) + 1
    assert lab.phase == max(other.phase for other in others if isinstance(other.phase, int)) + 1
    assert lab.files == ("demo.py",)
    assert check_lab(lab, course) == []

    starter = grade(lab, course / "labs" / "demo-01")
    assert starter.max_score > 0 and starter.score == 0, [t.reason for t in starter.tests]
    assert "not implemented yet — see task 1" in starter.tests[0].reason
    reference = grade(lab, course / "solutions" / "demo-01")
    assert reference.score == reference.max_score, [t.reason for t in reference.tests]


def test_a_lab_joins_the_phase_of_its_topic(course: Path) -> None:
    rag = [lab for lab in discover_labs(ROOT) if lab.id.startswith("rag-")]
    # the next free rag id: CONTRIBUTING's example (rag-04) may be a real lab by now
    free = f"rag-{max(int(lab.id.split('-')[1]) for lab in rag) + 1:02d}"
    made = new_lab(course, free)
    assert made.phase == max(lab.phase for lab in rag)
    assert module_name("code-01") == "code_lab"  # never shadow the standard library


@pytest.mark.parametrize(
    "bad", ["Demo-01", "demo", "demo-1", "demo_01", "../x-01", "-01", "demo-01x"]
)
def test_a_bad_id_is_refused_with_one_line(course: Path, bad: str) -> None:
    with pytest.raises(NewLabError, match="is not a lab id"):
        new_lab(course, bad)
    assert not any((course / "labs").iterdir())


def test_the_command_refuses_an_existing_lab(
    course: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LABKIT_ROOT", str(course))
    assert main(["new-lab", "demo-01"]) == 0
    assert "graders/demo-01/lab.toml" in capsys.readouterr().out
    before = (course / "solutions" / "demo-01" / "demo.py").read_text(encoding="utf-8")
    assert main(["new-lab", "demo-01"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "demo-01 already exists" in err, err
    assert main(["new-lab", "chat-01"]) == 2  # an existing course lab
    assert "chat-01 already exists" in capsys.readouterr().err
    assert (course / "solutions" / "demo-01" / "demo.py").read_text(encoding="utf-8") == before
