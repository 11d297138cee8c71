"""Stand-in for ``modeling_clip.py`` (with the text tower of ``hf_model.py`` and the vision tower of
``eva_model.py``) of jinaai/jina-clip-implementation, jina-clip-v2's model code.

Mirrors the published interface: ``JinaCLIPModel(config)`` with ``text_model`` / ``vision_model`` and
``text_projection`` / ``visual_projection`` (``nn.Identity`` unless ``add_projections``);
``get_text_features(input_ids=...)`` (a tensor or a ``BatchEncoding``; nothing else is used) and
``get_image_features(pixel_values=...)`` (a tensor or a ``BatchFeature``); ``encode_text(sentences, task=...)`` /
``encode_image(images)`` with ``truncate_dim`` (or ``config.truncate_dim``) and ``normalize_embeddings``. The text
tower (``HFTextEncoder``) builds its attention mask from ``config.pad_token_id``, runs its ``default_lora_task``
adapter when given no ``adapter_mask``, exposes ``task_instructions``, ``lora_adaptation_map``,
``default_instruction``, ``default_loraid``, ``context_length``, ``get_instruction_from_task`` and
``get_loraid_from_task``. The networks are tiny and self-written.
"""

import torch
from torch import nn
from transformers import (
    AutoImageProcessor,
    AutoTokenizer,
    BatchEncoding,
    BatchFeature,
    PretrainedConfig,
    PreTrainedModel,
)

from .configuration_clip import JinaCLIPConfig, JinaCLIPTextConfig, JinaCLIPVisionConfig


class HFTextEncoder(nn.Module):
    def __init__(self, config: JinaCLIPTextConfig):
        super().__init__()
        kwargs = dict(config.hf_model_config_kwargs)
        self.config = PretrainedConfig(**kwargs)
        width, vocab = kwargs["hidden_size"], kwargs["vocab_size"]
        adaptations = list(kwargs.get("lora_adaptations") or [])
        self.embeddings = nn.Embedding(vocab, width, padding_idx=self.config.pad_token_id)
        self.positions = nn.Embedding(kwargs["max_position_embeddings"], width)
        self.layer = nn.TransformerEncoderLayer(width, 2, 2 * width, dropout=0.0, batch_first=True)
        self.lora = nn.Parameter(torch.randn(len(adaptations), vocab, width))
        self.proj = nn.Identity() if width == config.embed_dim else nn.Linear(width, config.embed_dim, bias=False)
        self.context_length = kwargs["max_position_embeddings"]
        self._lora_adaptation_map = {name: index for index, name in enumerate(adaptations)}
        self._task_instructions = dict(kwargs.get("task_instructions") or {})
        self._default_instruction = self.get_instruction_from_task(config.default_instruction_task)
        self._default_loraid = self.get_loraid_from_task(config.default_lora_task)

    @property
    def task_instructions(self):
        return self._task_instructions

    @property
    def lora_adaptation_map(self):
        return self._lora_adaptation_map

    @property
    def default_instruction(self):
        return self._default_instruction

    @property
    def default_loraid(self):
        return self._default_loraid

    def get_instruction_from_task(self, task):
        if task is None:
            return getattr(self, "_default_instruction", None)
        if task not in self._task_instructions:
            raise ValueError(f"Unsupported task '{task}'")
        return self._task_instructions[task]

    def get_loraid_from_task(self, task):
        if task is None:
            return getattr(self, "_default_loraid", None)
        return self._lora_adaptation_map[task]

    def forward(self, x, adapter_mask=None):
        if adapter_mask is None and self.default_loraid is not None:
            adapter_mask = torch.full((x.shape[0],), self.default_loraid, dtype=torch.int32, device=x.device)
        attention_mask = (x != self.config.pad_token_id).long()
        hidden = self.embeddings(x) + self.positions(torch.arange(x.shape[1], device=x.device))[None]
        if adapter_mask is not None:
            hidden = hidden + self.lora[adapter_mask.long()[:, None], x]
        hidden = self.layer(hidden, src_key_padding_mask=attention_mask == 0)
        pooled = (hidden * attention_mask[..., None]).sum(1) / attention_mask.sum(1, keepdim=True)
        return self.proj(pooled)


class EVAVisionTransformer(nn.Module):
    def __init__(self, config: JinaCLIPVisionConfig):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, config.width, config.patch_size, config.patch_size)
        heads = max(1, config.width // config.head_width)
        self.layer = nn.TransformerEncoderLayer(config.width, heads, 2 * config.width, dropout=0.0, batch_first=True)
        self.head = nn.Linear(config.width, config.embed_dim)

    def forward(self, x):
        patches = self.patch_embed(x).flatten(2).transpose(1, 2)
        return self.head(self.layer(patches).mean(1))


class JinaCLIPModel(PreTrainedModel):
    config_class = JinaCLIPConfig
    base_model_prefix = "clip"

    def __init__(self, config: JinaCLIPConfig):
        super().__init__(config)
        if not isinstance(config.text_config, JinaCLIPTextConfig):
            raise ValueError("config.text_config must be a JinaCLIPTextConfig")
        self.add_projections = config.add_projections
        self.text_model = HFTextEncoder(config.text_config)
        self.vision_model = EVAVisionTransformer(config.vision_config)
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init_value))
        if config.add_projections:
            self.text_projection = nn.Linear(config.text_config.embed_dim, config.projection_dim, bias=False)
            self.visual_projection = nn.Linear(config.vision_config.embed_dim, config.projection_dim, bias=False)
        else:
            self.text_projection = nn.Identity()
            self.visual_projection = nn.Identity()
        self.tokenizer = None
        self.preprocess = None
        self.post_init()

    def get_tokenizer(self):
        if self.tokenizer is None:
            self.tokenizer = AutoTokenizer.from_pretrained(self.config._name_or_path, trust_remote_code=True)
        return self.tokenizer

    def get_preprocess(self):
        if self.preprocess is None:
            self.preprocess = AutoImageProcessor.from_pretrained(self.config._name_or_path, trust_remote_code=True)
        return self.preprocess

    def get_text_features(self, input_ids=None, *_, **__):
        x = input_ids.input_ids if isinstance(input_ids, BatchEncoding) else input_ids
        return self.text_projection(self.text_model(x=x))

    def get_image_features(self, pixel_values=None, *_, **__):
        x = pixel_values.pixel_values if isinstance(pixel_values, BatchFeature) else pixel_values
        return self.visual_projection(self.vision_model(x=x))

    def _finish(self, vectors, truncate_dim, normalize_embeddings):
        truncate_dim = truncate_dim or self.config.truncate_dim
        if truncate_dim:
            vectors = vectors[:, :truncate_dim]
        if normalize_embeddings:
            vectors = nn.functional.normalize(vectors, p=2, dim=1)
        return vectors.float().cpu().numpy()

    @torch.inference_mode()
    def encode_text(self, sentences, task=None, normalize_embeddings=True, truncate_dim=None, **tokenizer_kwargs):
        instruction = self.text_model.get_instruction_from_task(task)
        if instruction:
            sentences = [instruction + sentence for sentence in sentences]
        tokenizer_kwargs = {"padding": True, "max_length": 512, "truncation": True, **tokenizer_kwargs}
        tokens = self.get_tokenizer()(sentences, return_tensors="pt", **tokenizer_kwargs).to(self.device)
        return self._finish(self.get_text_features(input_ids=tokens), truncate_dim, normalize_embeddings)

    @torch.inference_mode()
    def encode_image(self, images, normalize_embeddings=True, truncate_dim=None):
        pixels = self.get_preprocess()([image.convert("RGB") for image in images]).to(self.device)
        return self._finish(self.get_image_features(pixels), truncate_dim, normalize_embeddings)

    def forward(self, input_ids=None, pixel_values=None, *_, **__):
        return self.get_text_features(input_ids=input_ids), self.get_image_features(pixel_values=pixel_values)
