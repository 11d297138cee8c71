"""Stand-in for ``configuration_xlm_roberta.py`` of jinaai/xlm-roberta-flash-implementation (the code
jina-embeddings-v3 names in its ``auto_map``): the same class name, ``model_type`` and LoRA / Matryoshka fields,
tiny default sizes. Written for these tests."""

from transformers import PretrainedConfig


class XLMRobertaFlashConfig(PretrainedConfig):
    model_type = "xlm-roberta"

    def __init__(
        self,
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=34,
        initializer_range=0.02,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        lora_adaptations=None,
        task_instructions=None,
        lora_rank=4,
        lora_dropout_p=0.0,
        lora_alpha=1,
        lora_main_params_trainable=False,
        load_trained_adapters=True,
        use_flash_attn=False,
        emb_pooler=None,
        matryoshka_dimensions=None,
        truncate_dim=None,
        **kwargs,
    ):
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.lora_adaptations = lora_adaptations
        self.task_instructions = task_instructions
        self.lora_rank = lora_rank
        self.lora_dropout_p = lora_dropout_p
        self.lora_alpha = lora_alpha
        self.lora_main_params_trainable = lora_main_params_trainable
        self.load_trained_adapters = load_trained_adapters
        self.use_flash_attn = use_flash_attn
        self.emb_pooler = emb_pooler
        self.matryoshka_dimensions = matryoshka_dimensions
        self.truncate_dim = truncate_dim
