"""The segmenter's chunker (inference/endpoints/tokenize/chunker.py) on a word-and-punctuation tokenizer: chunks
cover the text, stay within the budget, end at the strongest boundary in reach, never split a character that
several tokens share, and are cut again when a chunk alone has more tokens than it had in the text."""

from __future__ import annotations

import random
import re

import pytest

from inference.endpoints.tokenize.chunker import LINE, NO_CUT, PARAGRAPH, SENTENCE, TOKEN, WORD, boundary_levels, chunk
from inference.errors import InvalidInputError

PATTERN = re.compile(r"\w+|[^\w\s]")


def spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in PATTERN.finditer(text)]


def count(texts: list[str]) -> list[int]:
    return [len(PATTERN.findall(text)) for text in texts]


def pieces(text: str, budget: int, **kwargs) -> list[str]:
    return [text[a:b] for a, b in chunk(text, spans(text), budget, count, **kwargs)]


def test_levels_name_each_boundary():
    text = 'One two. "Three!" Four\nfive\n\n\nsix 3.14'
    tokens = [text[a:b] for a, b in spans(text)]
    before = list(zip(tokens, boundary_levels(text, spans(text)), strict=True))  # a token, the cut before it
    assert before[:8] == [("One", NO_CUT), ("two", WORD), (".", TOKEN), ('"', SENTENCE), ("Three", TOKEN),
                          ("!", TOKEN), ('"', TOKEN), ("Four", SENTENCE)]  # fmt: skip
    assert before[8:] == [("five", LINE), ("six", PARAGRAPH), ("3", WORD), (".", TOKEN), ("14", TOKEN)]


@pytest.mark.parametrize("budget", [1, 2, 3, 5, 8, 13, 40, 1000])
def test_chunks_cover_the_text_within_the_budget(budget):
    rng = random.Random(budget)
    words = ["alpha", "beta", "gamma", "delta.", "eps!", "zeta?\n", "eta\n\n", "theta,", "  iota"]
    text = "  " + " ".join(rng.choice(words) for _ in range(300)) + "  \n"
    got = pieces(text, budget)
    assert "".join(got) == text
    assert max(count(got)) <= budget and min(count(got)) >= 1


def test_chunks_end_at_the_strongest_boundary_in_reach():
    text = "Aa bb cc. Dd ee ff gg.\nHh ii jj kk ll mm nn oo pp qq."
    assert pieces(text, 12) == ["Aa bb cc. Dd ee ff gg.\n", "Hh ii jj kk ll mm nn oo pp qq."]
    assert pieces(text, 8) == ["Aa bb cc. ", "Dd ee ff gg.\n", "Hh ii jj kk ll mm nn oo ", "pp qq."]
    assert pieces(text, 100) == [text]


def test_a_sentence_end_early_in_reach_beats_a_cut_between_words():
    text = "Aa bb. " + " ".join(["word"] * 20)
    assert pieces(text, 10)[0] == "Aa bb. "


def test_tokens_sharing_a_character_stay_together():
    text = "ab 🚀 cd"
    shared = [(0, 2), (3, 4), (3, 4), (3, 4), (5, 7)]  # a byte-level tokenizer: the emoji's three bytes

    def bytes_count(texts: list[str]) -> list[int]:
        return [len(t.split()) + 2 * t.count("🚀") for t in texts]

    got = chunk(text, shared, 3, bytes_count)
    assert [text[a:b] for a, b in got] == ["ab ", "🚀 ", "cd"]
    with pytest.raises(InvalidInputError, match="max_chunk_length 2 is too small"):
        chunk(text, shared, 2, bytes_count)


def test_a_chunk_with_more_tokens_alone_is_cut_again():
    text = "aaaa bbbb cccc dddd"

    def context_count(texts: list[str]) -> list[int]:  # a chunk alone costs one token more than in the text
        return [len(t.split()) + 1 for t in texts]

    got = [text[a:b] for a, b in chunk(text, spans(text), 3, context_count)]
    assert "".join(got) == text and max(context_count(got)) <= 3


def test_a_window_cuts_only_its_tokens():
    text = "One two. Three four. Five six."
    all_spans = spans(text)
    got = chunk(text, all_spans, 100, count, window=(3, 6), chars=(all_spans[3][0], all_spans[5][1]))
    assert [text[a:b] for a, b in got] == ["Three four."]
    assert chunk("   ", [], 5, count) == []
