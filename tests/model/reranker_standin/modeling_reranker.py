"""Stand-in model of a remote-code reranker: an XLM-R sequence classifier whose logit is scaled by
``config.score_scale``, so a built-in class (which ignores that field) would give different scores."""

from transformers import XLMRobertaForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput

from .configuration_reranker import RerankerFlashConfig


class RerankerForSequenceClassification(XLMRobertaForSequenceClassification):
    config_class = RerankerFlashConfig

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **kwargs):
        out = super().forward(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        return SequenceClassifierOutput(logits=out.logits * self.config.score_scale)
