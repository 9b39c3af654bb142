"""The fake provider as an evaluation judge: RAGAS's prompts, and a learner's LLM-as-judge rubric.

Two behaviours, placed in the default chain before :class:`~labkit.fakellm.schema.filler.SchemaFiller`
(which would otherwise echo the prompt into the schema: faithfulness 1.0, recall 0.0):

:class:`RagasJudge` answers the five prompts of ``ragas.metrics.collections`` (0.4.x), recognised
by the output schema embedded in the prompt (or sent as ``response_format``), with judgements
computed from the texts, so the metrics move the right way:

==============================  =====================================  ===============================
output schema                   prompt                                 answer
==============================  =====================================  ===============================
``{statements: [str]}``         statement generation (Faithfulness)    the answer's sentences,
                                                                       ``[n]`` citations removed
``{statements: [{statement,     NLI verdicts (Faithfulness)            ``verdict`` = :func:`supported`
reason, verdict}]}``                                                   (statement, context)
``{reason, verdict}``           context precision (one context)        1 when the context supports a
                                                                       statement of the reference
                                                                       (:func:`useful`)
``{classifications: [{state-    context recall                         one item per reference
ment, reason, attributed}]}``                                          sentence, ``attributed`` =
                                                                       :func:`supported`
``{question, noncommittal}``    answer relevance                       the response's first statement
                                                                       as a question; noncommittal 1
                                                                       for a refusal ("I don't know")
==============================  =====================================  ===============================

The prompt's input is the last JSON object in the user text that has the keys the prompt needs
(``statements``/``context``, ``question``/``context``/``answer``, ``response``...).

:class:`RubricJudge` grades one (question, context, answer) for a learner's own judge prompt, with
deterministic, seeded flaws that shrink when the rubric is explicit (see its docstring).

The code is in :mod:`.text` (the shared judgements: :func:`supported`, :func:`useful`,
:func:`judge_answer`...), :mod:`.ragas` and :mod:`.rubric`; the names below are re-exported as
this package's documented surface.

Both are pure functions of the request (the flaws are drawn from a hash of the judged texts and the
request's ``seed``), and use the packaged MiniLM only through the embedder's disk cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# The documented surface: labs/eval-01's README sends learners to this module, and graders cite
# labkit.fakellm.judge.rubric_of; the code lives in the submodules.
from labkit.fakellm.judge.ragas import RagasJudge
from labkit.fakellm.judge.rubric import Rubric, RubricJudge, rubric_of
from labkit.fakellm.judge.text import judge_answer, statements_of, supported, useful

__all__ = [
    "RagasJudge",
    "Rubric",
    "RubricJudge",
    "judge_answer",
    "judge_behaviours",
    "rubric_of",
    "statements_of",
    "supported",
    "useful",
]


def judge_behaviours() -> Sequence[Any]:
    """The judges, in the order the default chain asks them."""
    return [RagasJudge(), RubricJudge()]
