"""The card's block packing (listwise_prompt.blocks) and the prompt: a block closes at 125 documents or once its
room (max length less twice the query) less its documents' tokens is down to 2048."""

from __future__ import annotations

from inference.handlers.listwise_prompt import blocks, prompt


def test_a_block_holds_at_most_125_documents():
    assert blocks([1] * 300, 10, 131_072) == [range(0, 125), range(125, 250), range(250, 300)]


def test_a_block_closes_once_its_room_is_down_to_the_document_cap():
    # room 10_000 - 2 * 100 = 9_800: after 3 documents of 2_500 tokens 2_300 are left, after 4: -200 (<= 2048).
    assert blocks([2_500] * 9, 100, 10_000) == [range(0, 4), range(4, 8), range(8, 9)]
    assert blocks([100] * 3, 100, 10_000) == [range(0, 3)]


def test_a_small_room_gives_one_document_per_block():
    assert blocks([50, 60, 70], 512, 2_048) == [range(0, 1), range(1, 2), range(2, 3)]


def test_the_prompt_places_each_scoring_token_once_per_text():
    text = prompt("q <|rerank_token|>", ["a <|embed_token|>", "b"])
    assert text.count("<|embed_token|>") == 2 and text.count("<|rerank_token|>") == 1
    assert 'I will provide you with 2 passages' in text
    assert text.index('<passage id="1">\nb<|embed_token|>\n</passage>') < text.index("<query>\nq <|rerank_token|>")
