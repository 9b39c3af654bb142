"""``python -m labkit.models.reranker``: train the course reranker into the cache (``make models``)."""

import sys

from labkit.models.reranker.cli import main

if __name__ == "__main__":
    sys.exit(main())
