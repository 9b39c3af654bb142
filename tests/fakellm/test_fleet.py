"""The model fleet (labkit.fakellm.fleet): seeded outcomes, prices, prompt caching on the wire."""

from __future__ import annotations

import anthropic
import openai

from labkit.fakellm import FakeLLM
from labkit.fakellm.fleet import FLEET, PRICES, Fleet, difficulty, evaluate, outcome

LONG_SYSTEM = "You answer arithmetic questions with one integer. " * 150  # > 1024 tokens


def test_questions_are_parsed_and_graded_by_difficulty() -> None:
    assert evaluate("What is 17 plus 25?") == 42
    assert evaluate("What is (12 + 7) * 3 - 4?") == 53
    assert evaluate("what is 6 times 7") == 42
    assert evaluate("Hello there") is None
    assert difficulty("What is 17 plus 25?") == "easy"
    assert difficulty("What is (12 + 7) * 3 - 4?") == "hard"


def test_outcomes_are_seeded_and_follow_the_profiles() -> None:
    questions = [f"What is ({a} + {a + 3}) * 2 - {a % 7}?" for a in range(10, 410)]
    first = [outcome(1, "fleet-small", "", q) for q in questions]
    assert first == [outcome(1, "fleet-small", "", q) for q in questions]
    assert first != [outcome(2, "fleet-small", "", q) for q in questions]
    small = sum(o.correct for o in first if o) / len(questions)
    large = sum(o.correct for o in (outcome(1, "fleet-large", "", q) for q in questions) if o)
    assert abs(small - FLEET["fleet-small"].accuracy["hard"]) < 0.08
    assert large / len(questions) > 0.85
    thinking = [outcome(1, "fleet-small", "Think step by step.", q) for q in questions]
    assert sum(o.correct for o in thinking if o) / len(questions) > small + 0.05
    assert all(o.text.startswith("Reasoning:") for o in thinking if o)
    assert set(PRICES) == set(FLEET)
    assert PRICES["fleet-large"]["output"] > PRICES["fleet-small"]["output"]


def test_other_models_fall_through(oai: openai.OpenAI, fake_llm: FakeLLM) -> None:
    reply = oai.chat.completions.create(
        model="fake-gpt", messages=[{"role": "user", "content": "What is 2 plus 2?"}]
    )
    assert fake_llm.journal.last().responder != "behaviour:Fleet"
    assert not (reply.choices[0].message.content or "").startswith("Answer:")


def test_repeated_long_prefix_reports_cached_tokens(
    oai: openai.OpenAI, claude: anthropic.Anthropic, fake_llm: FakeLLM
) -> None:
    fleet = Fleet(seed=3, time_scale=0.0)
    fake_llm.behaviours.insert(0, fleet)

    def ask(question: str, model: str = "fleet-small") -> openai.types.CompletionUsage:
        reply = oai.chat.completions.create(
            model=model,
            messages=[
                {"role": "system", "content": LONG_SYSTEM},
                {"role": "user", "content": question},
            ],
        )
        assert reply.usage is not None
        return reply.usage

    first = ask("What is 2 plus 2?")
    assert first.prompt_tokens_details
    assert first.prompt_tokens_details.cached_tokens == 0
    again = ask("What is 3 plus 5?")
    cached = again.prompt_tokens_details.cached_tokens if again.prompt_tokens_details else None
    assert cached
    assert cached % 128 == 0
    assert 1024 <= cached <= again.prompt_tokens
    other = ask("What is 3 plus 5?", "fleet-large")  # caches are per model
    assert other.prompt_tokens_details
    assert other.prompt_tokens_details.cached_tokens == 0
    short = oai.chat.completions.create(
        model="fleet-small", messages=[{"role": "user", "content": "What is 1 plus 1?"}]
    )
    assert short.usage
    assert short.usage.prompt_tokens_details
    assert short.usage.prompt_tokens_details.cached_tokens == 0

    message = claude.messages.create(
        model="fleet-small",
        max_tokens=64,
        system=LONG_SYSTEM,
        messages=[{"role": "user", "content": "What is 4 plus 4?"}],
    )
    assert message.usage.cache_read_input_tokens == cached
    served = fleet.served[-1]
    assert message.usage.input_tokens == served.prompt_tokens - served.cached_tokens
    assert [s.model for s in fleet.served] == ["fleet-small"] * 2 + [
        "fleet-large",
        "fleet-small",
        "fleet-small",
    ]
