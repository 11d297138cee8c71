"""Stand-in for ``modeling_lora.py`` of jinaai/xlm-roberta-flash-implementation (jina-embeddings-v3's model code).

Mirrors the published interface, not the network: ``XLMRobertaLoRA(config, roberta=None, add_pooling_layer=True)``
checks ``lora_adaptations`` / ``task_instructions`` the way Jina's does, keeps ``_adaptation_map`` (task -> index)
and ``_task_instructions``; ``from_pretrained`` moves keyword arguments named like config fields into the config;
``forward`` hands everything to ``roberta``, whose forward takes ``input_ids``, ``attention_mask`` and
``adapter_mask`` (one adapter index per row; none: no adapter) and returns ``last_hidden_state`` first;
``encode(sentences, task=...)`` prepends the task's instruction, sets ``adapter_mask``, mean-pools (``cls`` when
``emb_pooler == "cls"``), truncates to ``truncate_dim`` (or ``config.truncate_dim``) and normalises.
The network is tiny and self-written: embeddings with a per-task low-rank delta, one attention layer.
"""

import torch
from torch import nn
from transformers import AutoTokenizer, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutputWithPooling

from .configuration_xlm_roberta import XLMRobertaFlashConfig


class XLMRobertaModel(nn.Module):
    """The backbone; each adapter adds its own low-rank delta to the token embeddings of the rows it is chosen for."""

    def __init__(self, config):
        super().__init__()
        hidden, adapters = config.hidden_size, len(config.lora_adaptations)
        self.config = config
        self.word_embeddings = nn.Embedding(config.vocab_size, hidden, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, hidden)
        self.emb_ln = nn.LayerNorm(hidden)
        self.layer = nn.TransformerEncoderLayer(
            hidden, config.num_attention_heads, config.intermediate_size, dropout=0.0, batch_first=True
        )
        self.lora_A = nn.Parameter(torch.randn(adapters, config.vocab_size, config.lora_rank))
        self.lora_B = nn.Parameter(torch.randn(adapters, config.lora_rank, hidden))
        self.scaling = config.lora_alpha / config.lora_rank

    def forward(self, input_ids, position_ids=None, token_type_ids=None, attention_mask=None, **kwargs):
        adapter_mask = kwargs.pop("adapter_mask", None)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        hidden = self.word_embeddings(input_ids) + self.position_embeddings(positions)[None]
        if adapter_mask is not None:
            rows = adapter_mask.long()
            low_rank = self.lora_A[rows[:, None], input_ids]
            hidden = hidden + torch.einsum("bsr,brh->bsh", low_rank, self.lora_B[rows]) * self.scaling
        hidden = self.layer(self.emb_ln(hidden), src_key_padding_mask=attention_mask == 0)
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=hidden[:, 0])


class XLMRobertaLoRA(PreTrainedModel):
    config_class = XLMRobertaFlashConfig
    base_model_prefix = "roberta"

    def __init__(self, config, roberta=None, add_pooling_layer=True):
        super().__init__(config)
        adaptations = config.lora_adaptations
        if not isinstance(adaptations, list) or not adaptations:
            raise ValueError("`lora_adaptations` must be a list with at least one element")
        instructions = config.task_instructions
        if not isinstance(instructions, dict) or len(instructions) != len(adaptations) or set(instructions) - set(
            adaptations
        ):
            raise ValueError("`task_instructions` must be a dict keyed by the `lora_adaptations`")
        self._lora_adaptations = adaptations
        self._task_instructions = instructions
        self._adaptation_map = {name: index for index, name in enumerate(adaptations)}
        self.main_params_trainable = config.lora_main_params_trainable
        self.roberta = roberta if roberta is not None else XLMRobertaModel(config)
        self.post_init()

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, config=None, **kwargs):
        if config is not None:
            for key in list(kwargs):
                if key in config.to_dict():
                    config.update({key: kwargs.pop(key)})
        return super().from_pretrained(pretrained_model_name_or_path, *model_args, config=config, **kwargs)

    def forward(self, *args, **kwargs):
        return self.roberta(*args, **kwargs)

    @torch.inference_mode()
    def encode(self, sentences, *args, task=None, truncate_dim=None, normalize_embeddings=True, **kwargs):
        single = isinstance(sentences, str)
        sentences = [sentences] if single else list(sentences)
        if task and task not in self._adaptation_map:
            raise ValueError(f"Unsupported task '{task}'")
        adapter_mask = None
        if task:
            index = self._adaptation_map[task]
            adapter_mask = torch.full((len(sentences),), index, dtype=torch.int32, device=self.device)
            sentences = [self._task_instructions[task] + sentence for sentence in sentences]
        tokenizer = AutoTokenizer.from_pretrained(self.config._name_or_path)
        batch = tokenizer(sentences, padding=True, truncation=True, return_tensors="pt").to(self.device)
        mask = batch["attention_mask"]
        tokens = self.forward(input_ids=batch["input_ids"], attention_mask=mask, adapter_mask=adapter_mask)[0].float()
        if self.config.emb_pooler == "cls":
            vectors = tokens[:, 0]
        else:
            vectors = (tokens * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)
        truncate_dim = truncate_dim or self.config.truncate_dim
        if truncate_dim:
            if truncate_dim not in (self.config.matryoshka_dimensions or []):
                raise ValueError(f"truncate_dim={truncate_dim} is not one of {self.config.matryoshka_dimensions}")
            vectors = vectors[:, :truncate_dim]
        if normalize_embeddings:
            vectors = nn.functional.normalize(vectors, p=2, dim=1)
        array = vectors.cpu().numpy()
        return array[0] if single else array
