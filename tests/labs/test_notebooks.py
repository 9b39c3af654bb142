"""Every lab notebook (``labs/<id>/explore.ipynb``) runs headless: to the end against the
reference solution, with its charts; on the starter it stops at the first stub with the stub's own
"not implemented yet — see task N" line, not a traceback. Labs are discovered, so a notebook
added to any lab later is run too."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from labkit.grading.manifest import repo_root

ROOT = repo_root(Path(__file__).resolve().parent)
NOTEBOOKS = sorted(ROOT.glob("labs/*/explore.ipynb"))


def _run(notebook: Path, folder: Path) -> tuple[nbformat.NotebookNode, CellExecutionError | None]:
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        return nb, exc
    return nb, None


def _outputs(nb: nbformat.NotebookNode) -> list[dict[str, object]]:
    return [o for cell in nb.cells for o in cell.get("outputs", [])]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.parent.name for p in NOTEBOOKS])
def test_notebook_runs_on_the_reference_and_stops_politely_on_the_starter(
    notebook: Path, tmp_path: Path
) -> None:
    lab_id = notebook.parent.name
    reference = tmp_path / lab_id
    shutil.copytree(
        ROOT / "solutions" / lab_id, reference, ignore=shutil.ignore_patterns("__pycache__")
    )
    nb, error = _run(notebook, reference)
    assert error is None, f"{lab_id}: the notebook failed on the reference: {str(error)[-800:]}"
    charts = [o for o in _outputs(nb) if "image/png" in (o.get("data") or {})]  # type: ignore[operator]
    assert charts, f"{lab_id}: the notebook drew no chart"

    nb, error = _run(notebook, ROOT / "labs" / lab_id)
    assert error is not None, f"{lab_id}: the notebook ran to the end on the starter"
    shown = "".join(
        str(o.get("text", "")) for o in _outputs(nb) if o.get("output_type") == "stream"
    )
    assert "is not implemented yet — see task " in shown, shown[-500:]
    tracebacks = [o for o in _outputs(nb) if o.get("output_type") == "error" and o.get("traceback")]
    assert not tracebacks, f"{lab_id}: the starter run showed a traceback"
