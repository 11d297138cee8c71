"""``TextTokenizer`` over a Hugging Face fast tokenizer: the served model's own tokens, uncut, with offsets.

Every handler exposes one as ``text_tokenizer`` for ``/tokenize``, ``/decode`` and the segmenter, which do no
model work. Ids and counts are those of the model's Rust tokenizer with truncation and padding switched off, so
they equal ``AutoTokenizer``'s own; offsets are character (code point) offsets into the text tokenised.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenizers import Tokenizer

from ..core.types import Token
from ..errors import InvalidInputError
from .tokenization import uncut_tokenizer


class HFTextTokenizer:
    """The served model's tokenizer (``hf_tokenizer``: a transformers fast tokenizer) and its named prompts."""

    def __init__(self, hf_tokenizer: object, prompts: dict[str, str]) -> None:
        self._setup(uncut_tokenizer(hf_tokenizer), frozenset(getattr(hf_tokenizer, "all_special_ids", ())), prompts)

    @classmethod
    def from_rust(cls, tokenizer: Tokenizer, special_ids: frozenset[int], prompts: dict[str, str]) -> HFTextTokenizer:
        """From an uncut Rust tokenizer and the model's special token ids, without transformers."""
        self = cls.__new__(cls)
        self._setup(tokenizer, special_ids, prompts)
        return self

    def _setup(self, tokenizer: Tokenizer, special_ids: frozenset[int], prompts: dict[str, str]) -> None:
        self._tokenizer = tokenizer
        self._prompts = dict(prompts)
        self._vocab_size = self._tokenizer.get_vocab_size(with_added_tokens=True)
        self._special_ids = special_ids

    @property
    def prompts(self) -> dict[str, str]:
        return dict(self._prompts)

    def tokens(self, text: str, add_special_tokens: bool) -> list[Token]:
        encoding = self._tokenizer.encode(text, add_special_tokens=add_special_tokens)
        out = []
        for token_id, (start, stop), mask in zip(
            encoding.ids, encoding.offsets, encoding.special_tokens_mask, strict=True
        ):
            # Special tokens the tokenizer adds (mask 1) cover no characters; a special token written in the
            # text itself (e.g. a literal "[SEP]") is special too but keeps its place in the text.
            added = mask == 1
            special = added or token_id in self._special_ids
            if added:
                piece = self._tokenizer.id_to_token(token_id) or ""
                out.append(Token(id=token_id, text=piece, special=True, start=None, stop=None))
            else:
                out.append(Token(id=token_id, text=text[start:stop], special=special, start=start, stop=stop))
        return out

    def spans(self, text: str) -> list[tuple[int, int]]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).offsets)

    def count(self, texts: Sequence[str], add_special_tokens: bool) -> list[int]:
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=add_special_tokens)
        return [len(encoding.ids) for encoding in encodings]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool) -> str:
        bad = [token_id for token_id in ids if not 0 <= token_id < self._vocab_size]
        if bad:
            raise InvalidInputError(
                f"token id {bad[0]} is outside the model's vocabulary (0 to {self._vocab_size - 1})", param="ids"
            )
        return str(self._tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens))
