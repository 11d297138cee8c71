"""Stand-in configuration of a remote-code reranker (self-written; only the interface mirrors Jina's)."""

from transformers import XLMRobertaConfig


class RerankerFlashConfig(XLMRobertaConfig):
    def __init__(self, score_scale: float = 3.0, **kwargs):
        super().__init__(**kwargs)
        self.score_scale = score_scale
