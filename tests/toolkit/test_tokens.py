"""labkit.tokens: the real cl100k_base tokenizer, offline."""

from __future__ import annotations

from labkit import tokens


def test_counts_match_cl100k_base() -> None:
    # Known cl100k_base tokenisations: "hello world" is 2 tokens, "tiktoken is great!" is 6.
    assert tokens.count_tokens("hello world") == 2
    assert tokens.count_tokens("tiktoken is great!") == 6
    assert tokens.count_tokens("") == 0


def test_round_trip_and_special_tokens_as_text() -> None:
    text = "Résumé: <|endoftext|> is just text here."
    ids = tokens.encode(text)
    assert tokens.decode(ids) == text
    assert tokens.count_tokens(text) == len(ids)
