"""What a CLIP-style two-tower folder is, read without torch (``model_family`` decides from it; clip.py serves it)."""

from __future__ import annotations

CLIP_MODEL_TYPES = frozenset({"clip", "siglip", "siglip2", "chinese_clip", "altclip"})
# Towers trained with fixed-length padding and no attention mask.
FIXED_LENGTH_TYPES = frozenset({"siglip", "siglip2"})
