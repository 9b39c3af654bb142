"""Rebuild ``judge_vectors.npz``: MiniLM vectors of every text the fake judge embeds while the
reference is graded.

    .venv/bin/python graders/eval-01/build_vectors.py

It grades ``solutions/eval-01`` with plain pytest (no isolation) under an empty embedding cache
(``LABKIT_CACHE_DIR`` in a temporary folder) and saves every vector that cache then holds. The
texts depend on the seed: graded with another seed (an instructor's secret seed), the missing
ones are embedded live, so a stale file only makes grading slower, never wrong. Run it after
changing the judge, the labelled items, the rag-02 runs or the tests' samples.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from labkit.grading.child import plain_pytest_argv

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = HERE / "judge_vectors.npz"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="eval01-vectors-") as cache:
        env = dict(os.environ, LABKIT_CACHE_DIR=cache)
        subprocess.run(
            plain_pytest_argv(HERE, ROOT / "solutions" / "eval-01"),
            env=env,
            check=False,
            cwd=ROOT,
        )
        with sqlite3.connect(Path(cache) / "embeddings.sqlite3") as conn:
            rows = conn.execute(
                "SELECT key, vec FROM vectors WHERE model = 'all-MiniLM-L6-v2' ORDER BY key"
            ).fetchall()
    keys = np.array([k for k, _ in rows], dtype="S64")
    vectors = np.stack([np.frombuffer(v, dtype=np.float32) for _, v in rows]).astype(np.float16)
    np.savez_compressed(OUT, keys=keys, vectors=vectors)
    print(f"wrote {len(rows)} vectors to {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
