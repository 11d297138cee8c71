"""Stand-in for ``configuration_clip.py`` of jinaai/jina-clip-implementation (jina-clip-v2's ``auto_map``): the
same three classes and ``model_type`` values, the fields this service reads (``add_projections``,
``projection_dim``, ``matryoshka_dimensions``, ``truncate_dim``; text tower ``embed_dim``,
``hf_model_config_kwargs``, ``default_instruction_task``, ``default_lora_task``; vision tower ``embed_dim``,
``width``, ``image_size``, ``patch_size``), tiny defaults. Written for these tests."""

from transformers import PretrainedConfig


class JinaCLIPTextConfig(PretrainedConfig):
    model_type = "jina_clip_text"

    def __init__(
        self,
        embed_dim=16,
        hf_model_name_or_path="jinaai/jina-embeddings-v3",
        hf_model_config_kwargs=None,
        default_instruction_task=None,
        default_lora_task=None,
        pooler_type=None,
        proj_type=None,
        proj_bias=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.embed_dim = embed_dim
        self.hf_model_name_or_path = hf_model_name_or_path
        self.hf_model_config_kwargs = hf_model_config_kwargs or {}
        self.default_instruction_task = default_instruction_task
        self.default_lora_task = default_lora_task
        self.pooler_type = pooler_type
        self.proj_type = proj_type
        self.proj_bias = proj_bias


class JinaCLIPVisionConfig(PretrainedConfig):
    model_type = "jina_clip_vision"

    def __init__(self, embed_dim=16, width=24, image_size=24, patch_size=8, layers=1, head_width=12, **kwargs):
        super().__init__(**kwargs)
        self.embed_dim = embed_dim
        self.width = width
        self.image_size = image_size
        self.patch_size = patch_size
        self.layers = layers
        self.head_width = head_width


class JinaCLIPConfig(PretrainedConfig):
    model_type = "jina_clip"

    def __init__(
        self,
        text_config=None,
        vision_config=None,
        add_projections=False,
        projection_dim=16,
        logit_scale_init_value=2.6592,
        matryoshka_dimensions=None,
        truncate_dim=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.text_config = JinaCLIPTextConfig(**_as_dict(text_config))
        self.vision_config = JinaCLIPVisionConfig(**_as_dict(vision_config))
        self.add_projections = add_projections
        self.projection_dim = projection_dim
        self.logit_scale_init_value = logit_scale_init_value
        self.matryoshka_dimensions = matryoshka_dimensions
        self.truncate_dim = truncate_dim
        if not add_projections and self.text_config.embed_dim != self.vision_config.embed_dim:
            raise ValueError("without projections the text and vision towers need the same embed_dim")

    def to_dict(self):
        output = super().to_dict()
        output["text_config"] = self.text_config.to_dict()
        output["vision_config"] = self.vision_config.to_dict()
        output["model_type"] = self.model_type
        return output


def _as_dict(config):
    if config is None:
        return {}
    return config.to_dict() if isinstance(config, PretrainedConfig) else dict(config)
