"""Instructor mode and the adversarial suite: one batch of good, partial, broken, hanging and
malicious submissions, graded once (with hidden tests and a secret seed), then examined."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from grader_fixtures import (
    ADD_AND_MUL,
    ALTERNATIVE_GOOD,
    HIDDEN_CALC,
    MEAN_WITHOUT_EMPTY_CASE,
    NO_STREAMING,
    ONLY_ADD,
    REFERENCE,
    STARTER,
    attacks,
    build_attack,
    build_code,
)
from rich.console import Console
from test_learner_mode import check_gradescope_schema

from labkit.cli import main
from labkit.grading.batch import BatchOptions, BatchSummary, grade_all, render_summary
from labkit.grading.manifest import LabManifest, content_hash
from labkit.grading.records import stamp_record
from labkit.grading.runner import GradeOptions, grade

SECRET = "correct horse battery staple"
LINGERING_THREAD = (
    REFERENCE.read_text()
    + "\nimport threading\nthreading.Thread(target=time.sleep, args=(10**6,)).start()\n"
)


def _hardcoded() -> str:
    """add() answering only the public cases of the lab's default seed (4242)."""
    rng = random.Random(4242)
    pairs = [(rng.randint(-50, 50), rng.randint(-50, 50)) for _ in range(5)]
    table = {pair: sum(pair) for pair in pairs}
    return (
        STARTER.read_text()
        + f"\n\n_TABLE = {table!r}\n\ndef add(a, b):\n    return _TABLE[(a, b)]\n"
    )


# name -> (expected status, expected score out of 13, or None when only "<= starter" matters)
GOOD = {
    "ref_plain": REFERENCE.read_text(),
    "ref_alternative": ALTERNATIVE_GOOD,
    "ref_lingering_thread": LINGERING_THREAD,
}
PARTIAL = {
    "partial_only_add": (ONLY_ADD, 4.0),
    "partial_add_mul": (ADD_AND_MUL, 7.0),
    "partial_mean": (MEAN_WITHOUT_EMPTY_CASE, 12.0),
    "partial_no_stream": (NO_STREAMING, 11.0),
}
HANGING = {"infinite_loop", "infinite_loop_import"}
# a segfault kills the worker; signal_judge kills the judge itself through libc (same user: a
# container stops that). patch_builtins (rebinding builtins.type) breaks the worker's own replies:
# each test fails with "the worker could not do that" and the run is graded, at 0 (fail closed).
CRASHING = {"segfault", "signal_judge"}


@dataclass
class Batch:
    subs: Path
    out: Path
    hidden: Path
    summary: BatchSummary
    listener_reached: bool

    def results(self, name: str) -> dict[str, Any]:
        return json.loads((self.out / name / "results.json").read_text())

    def gradebook(self) -> dict[str, dict[str, str]]:
        with (self.out / "gradebook.csv").open() as fh:
            return {row["submission"]: row for row in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def batch(calc: LabManifest, course: Path, tmp_path_factory: pytest.TempPathFactory) -> Batch:
    base = tmp_path_factory.mktemp("batch")
    subs, out, hidden = base / "submissions", base / "out", base / "hidden"
    shutil.copytree(HIDDEN_CALC, hidden)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    placeholders = {
        "__LISTEN_PORT__": str(listener.getsockname()[1]),
        "__OUT_DIR__": str(out),
        "__HIDDEN_DIR__": str(hidden),
    }
    for name, code in GOOD.items():
        build_code(subs / name, code)
    build_code(subs / "ref_with_notes", REFERENCE.read_text(), {"notes/plan.txt": "done"})
    for name, (code, _) in PARTIAL.items():
        build_code(subs / name, code)
    build_code(subs / "starter", STARTER.read_text())
    build_code(subs / "hardcoded_answers", _hardcoded())
    (subs / "broken_missing_file" / "notes").mkdir(parents=True)
    (subs / "broken_missing_file" / "notes" / "todo.txt").write_text("calc.py coming soon")
    (subs / "invalid_empty").mkdir()
    build_code(subs / "invalid_wrong_files", "", {"main.py": "print('hi')"})
    (subs / "invalid_wrong_files" / "calc.py").unlink()
    for attack in attacks():
        build_attack(subs / attack, attack, placeholders)
    options = BatchOptions(
        jobs=2, hidden_tests=hidden, seed=1234567, secret_seed=True, repo_root=course
    )
    summary = grade_all(calc, subs, out, options, Console(stderr=True, width=100))
    try:
        listener.accept()
        reached = True
    except BlockingIOError:
        reached = False
    finally:
        listener.close()
    return Batch(subs, out, hidden, summary, reached)


def test_batch_has_at_least_thirty_submissions_all_in_the_gradebook(batch: Batch) -> None:
    names = {p.name for p in batch.subs.iterdir()}
    assert len(names) >= 30
    book = batch.gradebook()
    assert set(book) == names
    for name, row in book.items():
        assert row["status"] in ("graded", "timeout", "crashed", "invalid"), name
        assert row["max_score"] == "13.0", name
        check_gradescope_schema(batch.results(name))


def test_statuses(batch: Batch) -> None:
    book = batch.gradebook()
    expected = {name: "graded" for name in book}
    expected.update({name: "timeout" for name in HANGING})
    expected.update({name: "crashed" for name in CRASHING})
    expected.update({"invalid_empty": "invalid", "invalid_wrong_files": "invalid"})
    assert {name: row["status"] for name, row in book.items()} == expected


def test_good_and_partial_submissions_get_their_scores(batch: Batch) -> None:
    book = batch.gradebook()
    for name in [*GOOD, "ref_with_notes"]:
        assert float(book[name]["score"]) == 13.0, (name, batch.results(name)["tests"])
    for name, (_, score) in PARTIAL.items():
        assert float(book[name]["score"]) == score, name
    assert float(book["starter"]["score"]) == 0.0
    mean = next(t for t in batch.results("partial_mean")["tests"] if t["number"] == "1.3")
    assert mean["score"] == 3.0
    assert mean["status"] == "failed"


@pytest.mark.parametrize("attack", attacks())
def test_attack_scores_no_more_than_the_starter(batch: Batch, attack: str) -> None:
    starter = batch.results("starter")
    attacked = batch.results(attack)
    assert attacked["score"] <= starter["score"] == 0.0, attacked["tests"]
    assert batch.gradebook()[attack]["score"] == "0.0"


def test_no_learner_object_ran_code_in_the_judge(batch: Batch) -> None:
    """getattr_reduce returns objects whose __getattr__/__reduce__/__eq__ would leave a mark in
    the batch's output folder if the judge ever touched them (only data crosses)."""
    assert not list(batch.out.glob("pwned*"))
    tests = batch.results("getattr_reduce")["tests"]
    assert all(t["score"] == 0 for t in tests), tests


def test_an_endless_generator_costs_only_its_tests(batch: Batch) -> None:
    tests = {t["number"]: t["extra_data"] for t in batch.results("endless_generator")["tests"]}
    assert tests["1.1"]["outcome"] == "failed", tests["1.1"]


def test_hanging_submissions_cost_only_the_tests_they_touched(batch: Batch) -> None:
    tests = {t["number"]: t for t in batch.results("infinite_loop")["tests"]}
    assert tests["1.1"]["extra_data"]["outcome"] == "timeout"
    assert "did not finish within 3 s" in tests["1.1"]["output"]
    # mean() was left as in the starter: its test still ran and failed normally, after a restart
    assert tests["1.3"]["extra_data"]["outcome"] == "failed"
    assert "NotImplementedError" in tests["1.3"]["extra_data"]["reason"]


def test_a_crash_costs_only_the_tests_it_touched(batch: Batch) -> None:
    tests = {t["number"]: t["extra_data"] for t in batch.results("segfault")["tests"]}
    assert tests["1.1"]["outcome"] == "crash"
    assert "SIGSEGV" in tests["1.1"]["reason"]
    assert tests["1.2"]["outcome"] == "failed"  # run by a fresh child after the crash
    assert "mul() is not written yet" in tests["1.2"]["reason"]


def test_no_submission_reached_a_loopback_service(batch: Batch) -> None:
    assert not batch.listener_reached
    blocked = [
        b for t in batch.results("loopback_connect")["tests"] for b in t["extra_data"]["blocked"]
    ]
    assert any("connecting to 127.0.0.1" in b for b in blocked)


def test_fake_results_files_change_nothing(batch: Batch, course: Path) -> None:
    fake = batch.results("fake_results")
    assert fake["score"] == 0.0
    assert fake["extra_data"]["grader_version"]
    starter = batch.results("starter")
    assert starter["score"] == 0.0
    assert starter["extra_data"]["submission"] == "starter"
    assert batch.gradebook()["fake_results"]["score"] == "0.0"
    learner_results = course / ".labkit" / "results" / "calc.json"
    if learner_results.exists():  # written by learner-mode tests, never by the attack
        assert "extra_data" in json.loads(learner_results.read_text())
    blocked = [b for t in fake["tests"] for b in t["extra_data"]["blocked"]]
    assert any("writing" in b or "changing" in b for b in blocked)


def test_tests_and_hidden_tests_are_not_readable(batch: Batch) -> None:
    blocked = [b for t in batch.results("read_tests")["tests"] for b in t["extra_data"]["blocked"]]
    assert any("graders/calc/test_calc.py" in b for b in blocked), blocked
    assert any("test_hidden.py" in b or str(batch.hidden) in b for b in blocked), blocked


def test_hidden_tests_and_secret_seed_in_results(batch: Batch) -> None:
    doc = batch.results("ref_plain")
    hidden = [t for t in doc["tests"] if t["visibility"] == "hidden"]
    assert {t["number"] for t in hidden} == {"3.1", "9.1"}
    assert doc["extra_data"]["seed"].startswith("secret:")
    assert str(1234567) not in json.dumps(doc)
    hashes = {batch.results(p.name)["extra_data"]["tests_hash"] for p in batch.subs.iterdir()}
    assert len(hashes) == 1


def test_secret_seed_defeats_hard_coded_answers(batch: Batch, calc: LabManifest) -> None:
    public = grade(calc, batch.subs / "hardcoded_answers", GradeOptions(mode="learner"))
    assert next(t for t in public.tests if t.meta.number == "1.1").passed  # default seed: fooled
    secret = {t["number"]: t for t in batch.results("hardcoded_answers")["tests"]}
    assert secret["1.1"]["status"] == "failed"  # the instructor's seed: not fooled


def test_summary_has_distribution_and_pass_rates(batch: Batch) -> None:
    stats = json.loads((batch.out / "summary.json").read_text())
    count = len(list(batch.subs.iterdir()))
    assert stats["submissions"] == count
    assert sum(d["count"] for d in stats["distribution"]) == count
    rates = {t["number"]: t for t in stats["tests"]}
    assert set(rates) == {"1.1", "1.2", "1.3", "2.1", "3.1", "9.1"}
    assert rates["1.1"]["graded"] == count
    assert 0 < rates["1.1"]["pass_rate"] < 1


def test_resume_skips_already_graded_submissions(
    batch: Batch, calc: LabManifest, course: Path
) -> None:
    options = BatchOptions(
        jobs=2, hidden_tests=batch.hidden, seed=1234567, secret_seed=True, repo_root=course
    )
    again = grade_all(calc, batch.subs, batch.out, options, Console(stderr=True, width=100))
    assert again.graded_now == []
    assert sorted(again.skipped) == sorted(p.name for p in batch.subs.iterdir())
    assert len(batch.gradebook()) == len(again.skipped)


def test_grade_all_command_resumes_and_force_regrades(
    in_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subs, out = tmp_path / "subs", tmp_path / "out"
    build_code(subs / "alice", REFERENCE.read_text())
    build_code(subs / "bob", ONLY_ADD)
    (subs / "carol").mkdir()
    command = ["grade-all", "calc", "--submissions", str(subs), "--out", str(out), "--jobs", "2"]
    assert main(command) == 0
    first = capsys.readouterr().err
    assert "3 submissions" in first
    assert "mean" in first
    assert "median" in first
    stamp = (out / "alice" / "results.json").stat().st_mtime_ns
    assert main(command) == 0
    assert "3 already graded" in capsys.readouterr().err
    assert (out / "alice" / "results.json").stat().st_mtime_ns == stamp
    assert main([*command, "--force"]) == 0
    assert (out / "alice" / "results.json").stat().st_mtime_ns != stamp
    book = (out / "gradebook.csv").read_text().splitlines()
    assert book[0].startswith("submission,score,max_score,percent,status")
    rows = {line.split(",")[0]: line.split(",") for line in book[1:]}
    assert rows["alice"][1:5] == ["12.0", "12.0", "100.0", "graded"]
    assert rows["bob"][1] == "4.0"
    assert rows["carol"][4] == "invalid"


def test_second_layer_holds_when_the_allow_list_is_bypassed(
    calc: LabManifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even if conftest.py, pytest.ini, pyproject.toml, pytest.py, sitecustomize.py and _pytest/
    reached the grading folder, -c, --noconftest and -I keep them from running."""
    sub = tmp_path / "everything"
    for attack in ("conftest_force_pass", "pytest_ini_nothing", "shadow_modules"):
        build_attack(sub, attack)
    shutil.copyfile(STARTER, sub / "calc.py")
    everything = sorted((p, p.relative_to(sub).as_posix()) for p in sub.rglob("*") if p.is_file())
    assert {"conftest.py", "pytest.ini", "sitecustomize.py", "pytest.py"} <= {
        r for _, r in everything
    }
    monkeypatch.setattr(LabManifest, "learner_files", lambda self, folder: everything)
    result = grade(calc, sub, GradeOptions(mode="instructor"))
    assert result.status == "graded"
    assert result.score == 0.0
    assert len(result.tests) == 5


# --- 15.0: reuse depends on the submission's content, and the pass-rate table keeps suffixes ------


def _book(out: Path) -> dict[str, dict[str, str]]:
    with (out / "gradebook.csv").open() as fh:
        return {row["submission"]: row for row in csv.DictReader(fh)}


def test_a_resubmission_is_regraded_without_force(
    calc: LabManifest, course: Path, tmp_path: Path
) -> None:
    """The bug: a learner fixed their code in the same folder and kept their old grade."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    build_code(subs / "alice", ONLY_ADD)
    build_code(subs / "bob", ONLY_ADD)
    options = BatchOptions(jobs=2, repo_root=course)
    console = Console(stderr=True, width=100)
    first = grade_all(calc, subs, out, options, console)
    assert sorted(first.graded_now) == ["alice", "bob"]
    assert _book(out)["alice"]["score"] == "4.0"
    old_hash = _book(out)["alice"]["content_hash"]
    assert old_hash == content_hash(calc, subs / "alice")

    (subs / "alice" / "calc.py").write_text(REFERENCE.read_text())  # the resubmission
    (subs / "bob" / "scratch.md").write_text("not in the allow-list: cannot change the grade")
    second = grade_all(calc, subs, out, options, console)
    assert second.graded_now == ["alice"]
    assert second.skipped == ["bob"]
    row = _book(out)["alice"]
    assert row["score"] == "12.0"
    assert row["content_hash"] == content_hash(calc, subs / "alice") != old_hash
    assert batch_results(out, "alice")["extra_data"]["content_hash"] == row["content_hash"]


def test_reuse_also_needs_the_same_grader_version(
    calc: LabManifest, course: Path, tmp_path: Path
) -> None:
    subs, out = tmp_path / "subs", tmp_path / "out"
    build_code(subs / "alice", ONLY_ADD)
    options = BatchOptions(repo_root=course)
    grade_all(calc, subs, out, options, Console(stderr=True))
    doc = batch_results(out, "alice")
    doc["extra_data"]["grader_version"] = "0.0-older"
    (out / "alice" / "results.json").write_text(json.dumps(doc))
    again = grade_all(calc, subs, out, options, Console(stderr=True))
    assert again.graded_now == ["alice"]
    assert batch_results(out, "alice")["extra_data"]["grader_version"] != "0.0-older"


def test_content_hash_follows_the_allow_list_not_the_folder_name(
    calc: LabManifest, tmp_path: Path
) -> None:
    a = build_code(tmp_path / "a", ONLY_ADD)
    b = build_code(tmp_path / "renamed", ONLY_ADD, {"scratch.md": "ignored"})
    assert content_hash(calc, a) == content_hash(calc, b)
    (b / "notes").mkdir()
    (b / "notes" / "plan.txt").write_text("allow-listed (notes/*.txt): graded, so hashed")
    assert content_hash(calc, a) != content_hash(calc, b)


def test_content_hash_is_the_same_bytes_for_batch_and_learner_records(
    calc: LabManifest, tmp_path: Path
) -> None:
    """Earlier grade-all outputs are reused by this hash, so its format never drifts; the learner's
    record keeps the same fingerprint (``files_digest``) for the board's "changed"."""
    folder = build_code(tmp_path / "a", ONLY_ADD, {"notes/plan.txt": "plan"})
    expected = hashlib.sha256(
        b"labkit-submission-v1\0calc.py\0" + ONLY_ADD.encode() + b"\0notes/plan.txt\0plan\0"
    ).hexdigest()
    assert content_hash(calc, folder) == expected
    document: dict[str, Any] = {}
    stamp_record(document, calc, folder)
    assert document["extra_data"]["files_digest"] == expected


def test_pass_rate_table_keeps_parametrized_suffixes() -> None:
    """rich read "[openai]" as a style tag and printed two different tests as the same name."""
    summary = BatchSummary(
        stats={
            "submissions": 1,
            "statuses": {"graded": 1},
            "mean_percent": 50.0,
            "median_percent": 50.0,
            "distribution": [{"range": "50-60%", "count": 1}],
            "tests": [
                {
                    "number": f"1.1.{i}",
                    "name": f"streams [{p}]",
                    "visibility": "visible",
                    "passed": i - 1,
                    "graded": 1,
                    "pass_rate": float(i - 1),
                }
                for i, p in ((1, "openai"), (2, "anthropic"))
            ],
        }
    )
    console = Console(record=True, width=120)
    render_summary(summary, Path("out"), console)
    text = console.export_text()
    assert "streams [openai]" in text
    assert "streams [anthropic]" in text


def batch_results(out: Path, name: str) -> dict[str, Any]:
    return json.loads((out / name / "results.json").read_text())


def test_a_zip_instead_of_a_folder_gets_an_invalid_row_not_silence(
    in_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subs, out = tmp_path / "subs", tmp_path / "out"
    build_code(subs / "alice", REFERENCE.read_text())
    shutil.make_archive(str(subs / "bob"), "zip", subs / "alice")  # bob.zip, never unpacked
    (subs / "carol.py").write_text(REFERENCE.read_text())
    (subs / "dave").mkdir()  # an empty submission folder
    assert main(["grade-all", "calc", "--submissions", str(subs), "--out", str(out)]) == 0
    book = _book(out)
    assert set(book) == {"alice", "bob.zip", "carol.py", "dave"}
    assert book["alice"]["status"] == "graded"
    assert book["bob.zip"]["status"] == "invalid"
    assert "bob.zip is an archive, not a folder; unpack it into bob/" in book["bob.zip"]["detail"]
    assert "carol.py is a file, not a folder" in book["carol.py"]["detail"]
    assert book["dave"]["status"] == "invalid"
    assert "none of the lab's files" in book["dave"]["detail"]
    check_gradescope_schema(batch_results(out, "bob.zip"))
    capsys.readouterr()

    code = main(["grade-all", "calc", "--submissions", str(subs / "bob.zip"), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].endswith("is a file (unzip it first)"), err
    assert len(err) == 1, err
