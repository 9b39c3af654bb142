"""Loaders for the course data sets in ``datasets/`` and for any BEIR-format folder.

- :mod:`labkit.datasets.knowledge_base`: the Tessaline knowledge base and its golden questions
- :mod:`labkit.datasets.judge_labels`: human-labelled (question, contexts, answer) items for eval-01
- :mod:`labkit.datasets.wiki`: 10,033 Wikipedia summaries (pinned package) and questions about them
- :mod:`labkit.datasets.agent_tasks`: multi-step agent questions over the knowledge base and shop
- :mod:`labkit.datasets.beir`: export to / load from the BEIR folder format
- :mod:`labkit.datasets.paths`: where the repository and its ``datasets/`` folder are

``python -m labkit.datasets export-beir {knowledge-base,wiki} OUT_DIR`` writes a BEIR folder.
"""

from __future__ import annotations

from labkit.datasets.agent_tasks import (
    AgentTask,
    PlanStep,
    answer_matches,
    find_agent_task,
    load_agent_tasks,
)
from labkit.datasets.beir import (
    BeirDataset,
    export_beir,
    export_knowledge_base_beir,
    export_wiki_beir,
    load_beir,
)
from labkit.datasets.judge_labels import JudgeItem, load_judge_items
from labkit.datasets.knowledge_base import (
    Document,
    Passage,
    Question,
    kb_dir,
    load_documents,
    load_questions,
)
from labkit.datasets.paths import datasets_dir, repo_root
from labkit.datasets.wiki import (
    WikiDoc,
    WikiQuestion,
    load_wiki_questions,
    load_wiki_summaries,
    wiki_docs_by_title,
)

__all__ = [
    "AgentTask",
    "BeirDataset",
    "Document",
    "JudgeItem",
    "Passage",
    "PlanStep",
    "Question",
    "WikiDoc",
    "WikiQuestion",
    "answer_matches",
    "datasets_dir",
    "export_beir",
    "export_knowledge_base_beir",
    "export_wiki_beir",
    "find_agent_task",
    "kb_dir",
    "load_agent_tasks",
    "load_beir",
    "load_documents",
    "load_judge_items",
    "load_questions",
    "load_wiki_questions",
    "load_wiki_summaries",
    "repo_root",
    "wiki_docs_by_title",
]
