"""A text's first tokens from a prefix of it (``inference/handlers/prefix_tokens.py``): the same ids as tokenising
the whole text, for the embedded all-MiniLM-L6-v2's WordPiece and for byte-level BPE and SentencePiece-style Unigram
tokenizers trained here; English, punctuation, long words, CJK without spaces; a 5.8 MB text costs a few
thousand characters of tokenising; two texts' token counts are compared tokenising neither beyond a cap."""

from __future__ import annotations

import random

import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from inference.handlers.prefix_tokens import (
    CHARS_PER_TOKEN,
    MIN_CHARS,
    LazyTokens,
    first_tokens,
    first_tokens_of_each,
    not_shorter,
)
from inference.model_dir import embedded_model_dir

PIECES = ("the quick brown fox jumps over a lazy dog; search engine ranking don't e-mail naïve Straße 東京タワー 😀 "
          "x,y;z ... 3.14159 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n\n tab\there").split(" ")  # fmt: skip


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(PIECES) for _ in range(words))


def cjk(rng: random.Random, chars: int) -> str:
    return "".join(chr(0x4E00 + rng.randrange(300)) for _ in range(chars))


def trained(kind: str) -> Tokenizer:
    rng = random.Random(0)
    corpus = [text(rng, 200) for _ in range(100)] + [cjk(rng, 500)]
    if kind == "bytelevel-bpe":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    else:
        tokenizer = Tokenizer(models.Unigram())
        tokenizer.normalizer = normalizers.NFKC()
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=300, unk_token="<unk>", special_tokens=["<unk>"])
    tokenizer.train_from_iterator(corpus, trainer)
    return tokenizer


@pytest.fixture(scope="module", params=["minilm-wordpiece", "bytelevel-bpe", "unigram"])
def tokenizer(request):
    if request.param != "minilm-wordpiece":
        return trained(request.param)
    tokenizer = Tokenizer.from_file(str(embedded_model_dir() / "tokenizer.json"))
    tokenizer.no_truncation()  # as the reranker's copy: its file cuts at 128
    tokenizer.no_padding()
    return tokenizer


class Counting:
    """A tokenizer that counts the characters it was given."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer, self.chars = tokenizer, 0

    def encode(self, text: str, add_special_tokens: bool = True):
        self.chars += len(text)
        return self.tokenizer.encode(text, add_special_tokens=add_special_tokens)


def test_first_tokens_are_the_whole_texts_first_tokens(tokenizer):
    rng = random.Random(1)
    texts = [text(rng, words) for words in (0, 1, 20, 300, 3000, 20000)] + [cjk(rng, 40000), "a" * 50000]
    for sample in texts:
        whole = tokenizer.encode(sample, add_special_tokens=False).ids
        for limit in (0, 1, 21, 509, 4000):
            got = first_tokens(tokenizer, sample, limit)
            assert (got.ids, got.complete) == (whole[:limit], len(whole) <= limit), (len(sample), limit)
            assert got.least == (len(whole) if got.complete else limit + 1)


def test_first_tokens_of_each_are_first_tokens_of_one(tokenizer):
    rng = random.Random(3)
    texts = [text(rng, words) for words in (0, 5, 150, 40, 3000, 2, 900)] + [cjk(rng, 3000), ""]
    for limit in (0, 21, 509):
        expected = [first_tokens(tokenizer, sample, limit) for sample in texts]
        assert first_tokens_of_each(tokenizer, texts, limit) == expected


def test_a_huge_text_costs_a_few_thousand_characters(tokenizer):
    huge = text(random.Random(2), 1_000_000)
    assert len(huge) > 5_000_000
    counting = Counting(tokenizer)
    got = first_tokens(counting, huge, 509)  # type: ignore[arg-type]
    assert counting.chars < 50_000, counting.chars
    assert not got.complete and got.ids == tokenizer.encode(huge[:100_000], add_special_tokens=False).ids[:509]


@pytest.mark.parametrize(("first", "second"), [(300, 200), (200, 300), (250, 250), (20, 30_000), (30_000, 20)])
def test_not_shorter_compares_token_counts_up_to_a_cap(tokenizer, first, second):
    rng = random.Random(first * second)
    one, two = text(rng, first), text(rng, second)
    counts = [len(tokenizer.encode(sample, add_special_tokens=False).ids) for sample in (one, two)]
    for cap in (100, 1000):
        counting = Counting(tokenizer)
        tokenizer_like: Tokenizer = counting  # type: ignore[assignment]  # counts what it is given
        lazy = [LazyTokens(tokenizer_like, sample, first_tokens(tokenizer_like, sample, 21)) for sample in (one, two)]
        expected = counts[1] >= counts[0] if min(counts) <= cap else True  # both over the cap: a tie
        assert not_shorter(*lazy, cap=cap) == expected, (counts, cap)
        # Each text: a prefix for the first 21 tokens, one for ``cap``, each tokenised at two lengths (three times
        # its characters), twice that when tokens are long; never the whole 30,000-word text.
        prefixes = max(MIN_CHARS, CHARS_PER_TOKEN * 22) + max(MIN_CHARS, CHARS_PER_TOKEN * (cap + 1))
        assert counting.chars <= 2 * 2 * 3 * prefixes, (counting.chars, counts, cap)
