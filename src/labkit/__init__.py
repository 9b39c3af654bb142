"""labkit: the toolkit every lab and grader of the course uses.

Importing labkit makes the process offline-safe before any model library is imported: the course
must never reach a model hub or a telemetry endpoint, on a learner's laptop or in CI.
"""

from __future__ import annotations

import os

__version__ = "0.1.0"

# setdefault, not assignment: a learner who really wants hub access can still opt in explicitly.
_OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "RAGAS_DO_NOT_TRACK": "true",
    "ANONYMIZED_TELEMETRY": "False",  # chroma reads this env var too
    "TOKENIZERS_PARALLELISM": "false",
    "DO_NOT_TRACK": "1",
    # Quiet model loading: learners should see their results, not weight-loading progress bars.
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TQDM_DISABLE": "1",
}
for _key, _value in _OFFLINE_ENV.items():
    os.environ.setdefault(_key, _value)

__all__ = ["__version__"]
