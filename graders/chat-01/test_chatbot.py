"""chat-01 Streaming chatbot: what the learner's chatbot puts on the wire, and how it behaves.

Every test reaches learner code through the ``learner`` fixture (never at import time) and checks
the fake provider's journal, the values returned, or what the CLI printed and when.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from labkit import config
from labkit.fakellm import reply
from labkit.grading import assert_same, lab_test, make
from labkit.grading.toolkit import CHAT_PATHS, content_text, sdk_bodies
from labkit.tokens import count_tokens

SDKS = ("openai", "anthropic")
PER_MESSAGE = 4  # README: a message costs its content's tokens + 4; the system prompt is one
PERSONA = "You are Quill, a meticulous librarian who answers in exactly two sentences."
MODEL = "grader-model-7"
QUESTION = "Where are the atlases?"  # the one question of the adapter tests (2.1, 2.2)

WORDS = (
    "context window token budget stream chunk persona history latency retry provider model "
    "sampling temperature nucleus reply question answer system prompt turn pair oldest newest "
    "trim count encode decode server event delta message role content flush terminal"
).split()


# --------------------------------------------------------------------------- helpers


def cost(text: str) -> int:
    """What one message costs by the README's rule."""
    return PER_MESSAGE + count_tokens(text)


def word_chunks(text: str) -> list[str]:
    """``text`` cut into one stream chunk per word (14 words: 0.28 s at 0.02 s per chunk)."""
    words = text.split(" ")
    return [w + " " for w in words[:-1]] + words[-1:]


def sentence(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words)).capitalize() + "."


def sent_conversation(
    body: dict[str, Any], sdk: config.Sdk
) -> tuple[str | None, list[tuple[str, str]]]:
    """(system prompt, [(role, text), ...] without the system prompt) of one request body."""
    messages = list(body.get("messages") or [])
    system: str | None = None
    if sdk == "openai":
        if messages and isinstance(messages[0], dict) and messages[0].get("role") == "system":
            system = content_text(messages[0].get("content"))
            messages = messages[1:]
    elif "system" in body:
        system = content_text(body["system"])
    return system, [(str(m.get("role")), content_text(m.get("content"))) for m in messages]


def sent_tokens(system: str | None, turns: list[tuple[str, str]]) -> int:
    return (cost(system) if system is not None else 0) + sum(cost(t) for _, t in turns)


def last_body(fake: Any, sdk: config.Sdk) -> dict[str, Any]:
    found = sdk_bodies(fake, sdk)
    assert found, (
        f"expected a request to {CHAT_PATHS[sdk]} (the {sdk} SDK); the fake provider saw "
        f"{[e.path for e in fake.journal.entries] or 'nothing'}"
    )
    return found[-1]


def new_session(bot: Any, sdk: config.Sdk, **options: Any) -> Any:
    """The learner's ChatSession on a client pointed at the fake provider, SDK retries off."""
    settings: dict[str, Any] = {
        "sdk": sdk,
        "system_prompt": PERSONA,
        "model": MODEL,
        "budget_tokens": 4000,
        "temperature": 0.5,
        "top_p": None,
        "max_tokens": 400,
    }
    settings.update(options)
    return bot.ChatSession(make.client(sdk, max_retries=0), **settings)


def consume(pieces: Iterator[str]) -> list[str]:
    """Iterate what send() returned, checking every piece is a str."""
    out = []
    for piece in pieces:
        assert type(piece) is str, f"send() yielded a {type(piece).__name__}, expected str pieces"
        out.append(piece)
    return out


def chat(bot_session: Any, text: str) -> str:
    return "".join(consume(bot_session.send(text)))


def history_pairs(session: Any) -> list[tuple[str, str]]:
    history = session.history
    assert type(history) is list, f"history should be a list, got {type(history).__name__}"
    out = []
    for m in history:
        assert type(m) is dict, f"history items should be dicts, got {type(m).__name__}"
        out.append((str(m.get("role")), content_text(m.get("content"))))
    return out


def error_of(call: Any) -> BaseException:
    try:
        call()
    except Exception as exc:  # the learner's send() must let provider failures propagate
        return exc
    raise AssertionError("expected the provider failure to raise, but nothing was raised")


@pytest.fixture(params=SDKS)
def sdk(request: pytest.FixtureRequest) -> config.Sdk:
    return request.param


# --------------------------------------------------------------------------- 1. count and trim


@lab_test(points=1, number="1.1")
def test_count_message_tokens(learner: Any, lab_seed: int) -> None:
    """count_message_tokens uses the real tokenizer plus the per-message framing"""
    bot = learner.import_module("chatbot")
    rng = random.Random(lab_seed)
    messages = [
        {"role": "system", "content": PERSONA},
        {"role": "user", "content": sentence(rng, 12) + " Ünïcödé ✓ — naïve café 東京?"},
        {"role": "assistant", "content": sentence(rng, 30) + "\n\n- a list\n- of things"},
        {"role": "user", "content": "x"},
    ]
    expected = sum(cost(m["content"]) for m in messages)
    assert_same(bot.count_message_tokens(messages), expected, "count_message_tokens(4 messages)")
    assert_same(bot.count_message_tokens([]), 0, "count_message_tokens([])")
    one = [{"role": "user", "content": ""}]
    assert_same(
        bot.count_message_tokens(one), PER_MESSAGE, "count_message_tokens of one empty message"
    )


def conversation(rng: random.Random, turns: int, words: int = 20) -> list[dict[str, str]]:
    """user/assistant pairs, then a final user message."""
    out: list[dict[str, str]] = []
    for i in range(turns):
        out.append(
            {"role": "user", "content": f"Q{i}: " + sentence(rng, rng.randint(words // 2, words))}
        )
        if i < turns - 1:
            out.append(
                {
                    "role": "assistant",
                    "content": f"A{i}: " + sentence(rng, rng.randint(words, 2 * words)),
                }
            )
    return out


def total(system: str, messages: list[dict[str, str]]) -> int:
    return cost(system) + sum(cost(m["content"]) for m in messages)


@lab_test(points=1, number="1.2")
def test_trim_history_keeps_what_fits(learner: Any, lab_seed: int) -> None:
    """trim_history keeps a conversation that fits, and does not modify its input"""
    bot = learner.import_module("chatbot")
    history = conversation(random.Random(lab_seed + 1), 3)
    snapshot = json.dumps(history)
    exact = total(PERSONA, history)
    for budget in (exact, exact + 1000):
        kept = bot.trim_history(history, budget, PERSONA)
        assert_same(
            kept, json.loads(snapshot), f"trim_history(budget={budget}) with {exact} tokens needed"
        )
        assert kept is not history, "trim_history must return a new list, not the one it was given"
    assert json.dumps(history) == snapshot, "trim_history modified the history it was given"


@lab_test(points=2, number="1.3")
def test_trim_history_drops_oldest_pairs(learner: Any, lab_seed: int) -> None:
    """trim_history drops the oldest whole pairs, keeps the newest user message"""
    bot = learner.import_module("chatbot")
    history = conversation(random.Random(lab_seed + 2), 5)  # u0 a0 u1 a1 u2 a2 u3 a3 u4
    snapshot = json.dumps(history)
    problems: list[str] = []

    def check(budget: int, keep_from: int, why: str) -> None:
        kept = bot.trim_history(history, budget, PERSONA)
        want = history[keep_from:]
        try:
            assert_same(kept, want, f"trim_history(budget={budget})")
        except AssertionError as exc:
            got = [m.get("content", "")[:3] for m in kept] if isinstance(kept, list) else kept
            problems.append(
                f"{why}: expected the messages {[m['content'][:3] for m in want]}, got {got} ({exc})"
            )

    # Exactly the last two pairs + the newest question fit.
    check(total(PERSONA, history[4:]), 4, "budget for the newest 5 messages")
    # One token short of keeping u1 too: a2's pair must go with its question (whole pairs only).
    check(total(PERSONA, history[3:]), 4, "budget that would fit an answer without its question")
    # Just below that: one more pair goes.
    check(total(PERSONA, history[4:]) - 1, 6, "one token below the newest 5 messages")
    # Nothing but the newest question fits (or not even that): it is kept anyway.
    check(total(PERSONA, history[8:]), 8, "budget for the newest question only")
    check(5, 8, "a budget smaller than the system prompt")
    assert json.dumps(history) == snapshot, "trim_history modified the history it was given"
    assert not problems, "; ".join(problems)


# --------------------------------------------------------------------------- 2. the requests


def send_request(sdk: config.Sdk, request: Any, client: Any = None) -> None:
    """Send a request dict built by the learner's adapter with the SDK (on ``client``, by default
    one for the fake provider), as ChatSession would, and read the stream to its end (the fake
    provider's journal then holds the body)."""
    assert type(request) is dict, f"the request should be a dict, got {type(request).__name__}"
    if client is None:
        client = config.client(sdk, max_retries=0)
    if sdk == "openai":
        result = client.chat.completions.create(**request)
    else:
        result = client.messages.create(**request)
    if request.get("stream") is True:
        for _ in result:
            pass


def adapter(bot: Any, sdk: config.Sdk) -> Any:
    return bot.to_openai_request if sdk == "openai" else bot.to_anthropic_request


def sent_by_adapter(bot: Any, fake_llm: Any, sdk: config.Sdk, max_tokens: int) -> dict[str, Any]:
    """The body the fake provider received for the learner's request (to_<sdk>_request) with the
    persona, one user question, MODEL and temperature 0.5, sent with the SDK."""
    fake_llm.script(reply.text("Noted. Shelved."))
    request = adapter(bot, sdk)(
        PERSONA,
        [{"role": "user", "content": QUESTION}],
        model=MODEL,
        max_tokens=max_tokens,
        temperature=0.5,
    )
    send_request(sdk, request)
    return last_body(fake_llm, sdk)


def check_stream_and_model(body: dict[str, Any]) -> None:
    assert body.get("stream") is True, f"expected stream: true, got stream: {body.get('stream')!r}"
    assert body.get("model") == MODEL, f"expected the model {MODEL!r}, got {body.get('model')!r}"


def check_small_request(bot: Any, sdk: config.Sdk, messages: list[tuple[str, str]]) -> None:
    """to_<sdk>_request("S", one user turn "u") returns a dict with exactly these messages as
    (role, content) (and, for Anthropic, system "S")."""
    name = f"to_{sdk}_request"
    request = adapter(bot, sdk)("S", [{"role": "user", "content": "u"}], model="m", max_tokens=9)
    assert type(request) is dict, f"{name} should return a dict, got {type(request).__name__}"
    if sdk == "anthropic":
        assert content_text(request.get("system")) == "S", (
            f"{name}(...)['system'] was {request.get('system')!r}"
        )
    assert_same(
        [(m.get("role"), m.get("content")) for m in request.get("messages", [])],
        messages,
        f"{name}(...)['messages'] as (role, content)",
    )


@lab_test(points=2, number="2.1")
def test_openai_system_prompt_first(learner: Any, fake_llm: Any) -> None:
    """OpenAI: the persona is messages[0] with role system, stream is on"""
    bot = learner.import_module("chatbot")
    body = sent_by_adapter(bot, fake_llm, "openai", max_tokens=400)
    messages = body.get("messages") or []
    assert messages, f"expected a list of messages, got {messages!r}"
    assert isinstance(messages[0], dict), f"expected a list of messages, got {messages!r}"
    first = messages[0]
    not_the_persona = (
        f"expected messages[0] to be the system prompt {PERSONA[:40]!r}..., got "
        + json.dumps(first)[:120]
    )
    assert first.get("role") == "system", not_the_persona
    assert content_text(first.get("content")) == PERSONA, not_the_persona
    roles = [m.get("role") for m in messages]
    assert roles == ["system", "user"], f"expected roles ['system', 'user'], got {roles}"
    assert content_text(messages[1].get("content")) == QUESTION, f"user message was {messages[1]!r}"
    check_stream_and_model(body)
    check_small_request(bot, "openai", [("system", "S"), ("user", "u")])


@lab_test(points=2, number="2.2")
def test_anthropic_system_top_level(learner: Any, fake_llm: Any) -> None:
    """Anthropic: the persona is the top-level system field, max_tokens is sent"""
    bot = learner.import_module("chatbot")
    body = sent_by_adapter(bot, fake_llm, "anthropic", max_tokens=321)
    assert content_text(body.get("system")) == PERSONA, (
        f"expected top-level system = the persona, got {json.dumps(body.get('system'))[:120]}"
    )
    messages = body.get("messages") or []
    roles = [m.get("role") for m in messages if isinstance(m, dict)]
    assert roles == ["user"], (
        f"expected messages with roles ['user'] (no system message), got {roles}"
    )
    assert content_text(messages[0].get("content")) == QUESTION, f"user message was {messages[0]!r}"
    assert body.get("max_tokens") == 321, f"expected max_tokens 321, got {body.get('max_tokens')!r}"
    check_stream_and_model(body)
    check_small_request(bot, "anthropic", [("user", "u")])


@lab_test(points=1, number="2.3")
def test_sampling_parameters_passed(learner: Any, fake_llm: Any, sdk: config.Sdk) -> None:
    """temperature, top_p and max_tokens reach the wire; None means not sent"""
    bot = learner.import_module("chatbot")
    fake_llm.script(reply.text("One."), reply.text("Two."))
    turn = [{"role": "user", "content": "first"}]
    build = adapter(bot, sdk)
    send_request(
        sdk, build(PERSONA, turn, model=MODEL, max_tokens=123, temperature=0.35, top_p=0.85)
    )
    body = last_body(fake_llm, sdk)
    limit = body.get("max_tokens", body.get("max_completion_tokens"))
    seen = {"temperature": body.get("temperature"), "top_p": body.get("top_p"), "max_tokens": limit}
    assert seen == {"temperature": 0.35, "top_p": 0.85, "max_tokens": 123}, (
        f"expected temperature 0.35, top_p 0.85, max_tokens 123 on the wire, got {seen}"
    )
    send_request(
        sdk, build(PERSONA, turn, model=MODEL, max_tokens=77, temperature=None, top_p=None)
    )
    body = last_body(fake_llm, sdk)
    present = sorted(k for k in ("temperature", "top_p") if k in body)
    assert not present, f"temperature/top_p were None but the request still sent {present}"
    limit = body.get("max_tokens", body.get("max_completion_tokens"))
    assert limit == 77, f"expected max_tokens 77, got {limit!r}"


# --------------------------------------------------------------------------- 3. streaming


def known_good_request(sdk: config.Sdk, text: str) -> dict[str, Any]:
    """A streaming request built here, not by the learner: task 3 is graded on its own."""
    turn = [{"role": "user", "content": text}]
    if sdk == "openai":
        messages = [{"role": "system", "content": PERSONA}, *turn]
        return {"model": MODEL, "messages": messages, "max_tokens": 400, "stream": True}
    return {"model": MODEL, "system": PERSONA, "messages": turn, "max_tokens": 400, "stream": True}


@lab_test(points=2, number="3.1")
def test_pieces_arrive_as_they_stream(learner: Any, fake_llm: Any, sdk: config.Sdk) -> None:
    """stream_openai / stream_anthropic yield the pieces while the stream is still arriving"""
    bot = learner.import_module("chatbot")
    chunks = word_chunks(
        "Shelf four, row two: the blue atlases sit between the globes and the charts."
    )
    fake_llm.script(reply.text("".join(chunks)).streamed(chunks=chunks, delay=0.02))
    stream = bot.stream_openai if sdk == "openai" else bot.stream_anthropic
    client = config.client(sdk, max_retries=0)
    start = time.monotonic()
    stamps: list[tuple[float, str]] = []
    for piece in stream(client, known_good_request(sdk, "Where are the atlases?")):
        stamps.append((time.monotonic() - start, piece))
    name = f"stream_{sdk}"
    got = "".join(p for _, p in stamps if isinstance(p, str))
    assert got == "".join(chunks), (
        f"{name}'s pieces joined to {got!r}, expected {''.join(chunks)!r}"
    )
    assert len(stamps) >= len(chunks) // 2, (
        f"expected one piece per streamed chunk ({len(chunks)}), {name} yielded {len(stamps)}"
    )
    spread = stamps[-1][0] - stamps[0][0]
    assert spread >= 0.1, (
        f"the stream took ~0.28 s to arrive, but {name}'s pieces came out within {spread:.3f} s "
        "of each other: they were collected first and yielded at the end"
    )


# --------------------------------------------------------------------------- 4. the session


REPLIES = (
    "Atlases: shelf four.\n\nAsk me for maps too ✓",
    "  Leading spaces and a trailing newline stay verbatim.\n",
    "Third answer — with “quotes”, a tab\tand 東京.",
)


@lab_test(points=2, number="4.1")
def test_history_across_turns(learner: Any, fake_llm: Any, sdk: config.Sdk) -> None:
    """3 turns: each request carries every earlier turn verbatim, in order"""
    bot = learner.import_module("chatbot")
    fake_llm.script(*(reply.text(r).streamed(chunk_size=5) for r in REPLIES))
    session = new_session(bot, sdk)
    questions = ["Where are the atlases?", "And the maps?", "Thank you!"]
    answers = [chat(session, q) for q in questions]
    assert answers == list(REPLIES), (
        f"the streamed pieces joined to {answers!r}, expected {list(REPLIES)!r}"
    )
    sent = sdk_bodies(fake_llm, sdk)
    assert len(sent) == 3, f"expected 3 requests for 3 messages, the fake saw {len(sent)}"
    expected: list[tuple[str, str]] = []
    for i, body in enumerate(sent):
        expected.append(("user", questions[i]))
        system, turns = sent_conversation(body, sdk)
        assert system == PERSONA, (
            f"request {i + 1}: the system prompt was {system!r}, expected the persona"
        )
        assert turns == expected, f"request {i + 1}: expected the messages {expected}, got {turns}"
        expected.append(("assistant", REPLIES[i]))
    assert history_pairs(session) == expected, (
        f"session.history should be the 6 user/assistant messages {expected}, got {history_pairs(session)}"
    )


@lab_test(points=3, number="4.2")
def test_trimming_on_the_wire(learner: Any, fake_llm: Any, sdk: config.Sdk, lab_seed: int) -> None:
    """long chat: every request fits the budget, oldest pairs dropped first"""
    bot = learner.import_module("chatbot")
    rng = random.Random(lab_seed + 4)
    questions = [f"Q{i}: " + sentence(rng, rng.randint(15, 30)) for i in range(7)]
    answers = [f"A{i}: " + sentence(rng, rng.randint(25, 45)) for i in range(7)]
    budget = cost(PERSONA) + 150
    fake_llm.script(*(reply.text(a) for a in answers))
    session = new_session(bot, sdk, budget_tokens=budget)
    for q in questions:
        chat(session, q)
    sent = sdk_bodies(fake_llm, sdk)
    assert len(sent) == len(questions), (
        f"expected {len(questions)} requests, the fake saw {len(sent)}"
    )
    trimmed = 0
    for i, body in enumerate(sent):
        full: list[tuple[str, str]] = []
        for j in range(i):
            full += [("user", questions[j]), ("assistant", answers[j])]
        full.append(("user", questions[i]))
        system, turns = sent_conversation(body, sdk)
        where = f"request {i + 1} (budget {budget})"
        assert system == PERSONA, f"{where}: the system prompt must always be sent, got {system!r}"
        assert turns, f"{where}: the newest user message must be last, got {turns[-1:]}"
        assert turns[-1] == full[-1], (
            f"{where}: the newest user message must be last, got {turns[-1:]}"
        )
        used = sent_tokens(system, turns)
        assert used <= budget, f"{where}: the request used {used} tokens, over the budget"
        assert turns == full[len(full) - len(turns) :], (
            f"{where}: what was sent is not the newest part of the conversation "
            f"(first sent message: {turns[0][1][:20]!r})"
        )
        assert turns[0][0] == "user", (
            f"{where}: the kept part must start with a user message (whole pairs)"
        )
        # As much as fits: one more pair would have gone over.
        if len(turns) < len(full):
            trimmed += 1
            bigger = full[len(full) - len(turns) - 2 :]
            assert sent_tokens(system, bigger) > budget, (
                f"{where}: dropped more than needed: {len(turns)} messages sent, "
                f"{len(bigger)} would still have fitted"
            )
    assert trimmed >= 3, f"expected trimming on the later requests, only {trimmed} were trimmed"


@lab_test(points=1, number="4.3")
def test_reset_clears_history(learner: Any, fake_llm: Any, sdk: config.Sdk) -> None:
    """after reset(): empty history, persona kept, next request has one message"""
    bot = learner.import_module("chatbot")
    fake_llm.script(reply.text("First answer."), reply.text("Fresh answer."))
    session = new_session(bot, sdk)
    chat(session, "Remember the number 42.")
    session.reset()
    assert history_pairs(session) == [], (
        f"history after reset() should be empty, got {history_pairs(session)}"
    )
    chat(session, "What number?")
    system, turns = sent_conversation(last_body(fake_llm, sdk), sdk)
    assert system == PERSONA, f"after reset() the persona must still be sent, got system {system!r}"
    assert turns == [("user", "What number?")], (
        f"after reset() expected only the new message, got {turns}"
    )
    assert history_pairs(session) == [("user", "What number?"), ("assistant", "Fresh answer.")], (
        f"history after one new turn was {history_pairs(session)}"
    )


@lab_test(points=1, number="4.4")
def test_failed_turn_is_not_recorded(learner: Any, fake_llm: Any, sdk: config.Sdk) -> None:
    """a failed turn (HTTP 503, or a stream cut mid-way) leaves the history unchanged"""
    bot = learner.import_module("chatbot")
    fake_llm.script(
        reply.text("Shelf four."),
        reply.error(503, "busy", should_retry=False),
        reply.dropped("Half an ans", after=1),
        reply.text("Still here."),
    )
    session = new_session(bot, sdk)
    chat(session, "Where are the atlases?")
    before = history_pairs(session)
    error_of(lambda: chat(session, "This one fails (503)."))
    assert history_pairs(session) == before, (
        f"after a 503 the history changed to {history_pairs(session)}"
    )
    error_of(lambda: chat(session, "This one is cut off."))
    assert history_pairs(session) == before, (
        f"after a stream cut mid-way the history changed to {history_pairs(session)}"
    )
    chat(session, "Are you there?")
    _, turns = sent_conversation(last_body(fake_llm, sdk), sdk)
    expected = [*before, ("user", "Are you there?")]
    assert turns == expected, f"the request after the failures should carry {expected}, got {turns}"


# --------------------------------------------------------------------------- 5. errors


def connection_refusing_port() -> tuple[int, threading.Thread]:
    """A local port that accepts one connection and closes it without answering (the client
    has max_retries=0, so it connects once)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def serve() -> None:
        server.settimeout(5)
        try:
            conn, _ = server.accept()
            conn.recv(65536)
            conn.close()
        except OSError:
            pass
        finally:
            server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


def one_line(message: object, what: str) -> str:
    assert type(message) is str, f"friendly_error({what}) returned {message!r}, expected a str"
    assert message.strip(), f"friendly_error({what}) returned an empty message"
    assert "\n" not in message.strip(), (
        f"friendly_error({what}) should be one line, got {message!r}"
    )
    assert "Traceback" not in message, f"friendly_error({what}) contains a traceback"
    return message


@lab_test(points=2, number="5.1")
def test_friendly_error_messages(learner: Any, fake_llm: Any, sdk: config.Sdk) -> None:
    """one friendly line per provider failure, None for a bug"""
    import anthropic
    import openai

    bot = learner.import_module("chatbot")
    fake_llm.script(
        reply.error(503, "overloaded", should_retry=False),
        reply.dropped("Half an ans", after=1),
        reply.text("Half an answer").failing(after=1),
    )

    def failure(text: str) -> BaseException:  # what the SDK raises, without ChatSession (task 4)
        return error_of(lambda: send_request(sdk, known_good_request(sdk, text)))

    status = one_line(bot.friendly_error(failure("a")), "an HTTP 503")
    assert "503" in status, (
        f"the message for an HTTP 503 should name the status code, got {status!r}"
    )
    one_line(bot.friendly_error(failure("b")), "a connection dropped mid-stream")
    one_line(bot.friendly_error(failure("c")), "an error event in mid-stream")

    port, thread = connection_refusing_port()
    if sdk == "openai":
        client: Any = openai.OpenAI(
            api_key="x", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0
        )
    else:
        client = anthropic.Anthropic(
            api_key="x", base_url=f"http://127.0.0.1:{port}", max_retries=0
        )
    exc = error_of(lambda: send_request(sdk, known_good_request(sdk, "d"), client))
    thread.join(timeout=5)
    connection = one_line(bot.friendly_error(exc), "an APIConnectionError")
    assert "503" not in connection, f"a connection failure got the HTTP 503 message: {connection!r}"

    for bug in (ValueError("a bug"), KeyError("role"), ZeroDivisionError()):
        got = bot.friendly_error(bug)
        assert got is None, (
            f"friendly_error({type(bug).__name__}) returned {got!r}: only provider failures get a "
            "friendly message, bugs must keep their traceback (return None)"
        )


# --------------------------------------------------------------------------- 6. the CLI


def last_lines(text: str, count: int = 3) -> str:
    """The last few non-blank lines of some output, joined with " | ": whole lines, so paths stay
    whole (and are shown as the learner's folder), without escaped newlines."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "(nothing)"


def cli_args(sdk: config.Sdk, *extra: str) -> list[str]:
    return ["cli.py", "--sdk", sdk, "--system", PERSONA, *extra]


def reply_chunk_times(result: Any, text: str) -> list[float]:
    """Arrival times of the stdout chunks that carried part of ``text``."""
    stdout = "".join(c.text for c in result.chunks if c.stream == "stdout")
    begin = stdout.find(text)
    if begin < 0:
        return []
    end = begin + len(text)
    times, offset = [], 0
    for c in result.chunks:
        if c.stream != "stdout":
            continue
        if offset < end and offset + len(c.text) > begin:
            times.append(c.t)
        offset += len(c.text)
    return times


@lab_test(points=3, number="6.1")
def test_cli_streams_as_it_arrives(learner: Any, fake_llm: Any) -> None:
    """python cli.py prints the reply piece by piece while it streams (Anthropic SDK)"""
    # 3.1 checks both SDKs in-process; one CLI run each keeps grading fast
    sdk: config.Sdk = "anthropic"
    chunks = word_chunks(
        "The blue atlases are on shelf four, row two, between the globes and charts."
    )
    answer = "".join(chunks)
    fake_llm.script(reply.text(answer).streamed(chunks=chunks, delay=0.02))
    result = learner.run(cli_args(sdk), input="Where are the atlases?\n/quit\n")
    assert result.ok, f"python cli.py should exit 0 after /quit: {result.describe()}"
    assert answer in result.stdout, (
        f"expected the reply {answer!r} on stdout, got {last_lines(result.stdout)} ({result.describe()})"
    )
    times = reply_chunk_times(result, answer)
    spread = times[-1] - times[0] if times else 0.0
    assert len(times) >= 3, (
        f"the reply streamed over ~0.28 s in {len(chunks)} chunks, but the CLI printed it in "
        f"{len(times)} piece(s) within {spread:.3f} s: it was not shown as it arrived"
    )
    assert spread >= 0.1, (
        f"the reply streamed over ~0.28 s in {len(chunks)} chunks, but the CLI printed it in "
        f"{len(times)} piece(s) within {spread:.3f} s: it was not shown as it arrived"
    )


@lab_test(points=2, number="6.2")
def test_cli_reset_and_quit(learner: Any, fake_llm: Any) -> None:
    """/reset empties the history on the wire, /quit exits cleanly (OpenAI SDK)"""
    fake_llm.script(reply.text("I will remember 42."), reply.text("Which number?"))
    lines = "Remember the number 42.\n/reset\nWhat number?\n/quit\nNever sent.\n"
    result = learner.run(cli_args("openai"), input=lines)
    assert result.ok, f"python cli.py should exit 0 after /quit: {result.describe()}"
    sent = sdk_bodies(fake_llm, "openai")
    seen = [sent_conversation(b, "openai")[1] for b in sent]
    assert len(sent) == 2, (
        f"expected 2 requests (before and after /reset, none after /quit), got {seen}"
    )
    system, turns = sent_conversation(sent[1], "openai")
    assert system == PERSONA, f"after /reset the persona must still be sent, got {system!r}"
    assert turns == [("user", "What number?")], (
        f"after /reset expected only the new message, got {turns}"
    )


@lab_test(points=3, number="6.3")
def test_cli_survives_provider_errors(learner: Any, fake_llm: Any) -> None:
    """HTTP 503 and a dropped stream: a friendly line each, the chat goes on (Anthropic SDK)"""
    sdk: config.Sdk = "anthropic"  # 5.1 checks both SDKs' exceptions in-process
    fake_llm.script(
        reply.error(503, "The engine is overloaded.", should_retry=False),
        reply.dropped("Half an ans", after=1),
        reply.text("Back on shelf four."),
    )
    result = learner.run(cli_args(sdk), input="one\ntwo\nthree\n/quit\n")
    output = result.stdout + result.stderr
    assert "Traceback" not in output, (
        f"expected friendly messages, but a traceback was printed, ending: {last_lines(output)}"
    )
    assert result.ok, (
        f"python cli.py should survive provider errors and exit 0 after /quit: {result.describe()}"
    )
    status_lines = [line for line in output.splitlines() if "503" in line]
    assert status_lines, (
        f"expected a one-line message naming HTTP 503, got output ending: {last_lines(output)}"
    )
    assert "Back on shelf four." in result.stdout, (
        f"after two failures the third message should still get its reply; stdout ends: {last_lines(result.stdout)}"
    )
    assert len(sdk_bodies(fake_llm, sdk)) == 3, (
        f"expected 3 requests, the fake saw {len(sdk_bodies(fake_llm, sdk))}"
    )
