"""Tiny random models saved with ``save_pretrained``, loaded through the real loading code. Offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

WORDS = "the a of to and in is was for on with as by at from hello world bonjour le monde hola mundo".split()


def _word_level(specials: list[str], template: tuple[str, str], words: list[str] = WORDS) -> Tokenizer:
    vocab = {tok: i for i, tok in enumerate(specials + words)}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=specials[3] if len(specials) > 3 else specials[0]))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    bos, eos = template
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", special_tokens=[(bos, vocab[bos]), (eos, vocab[eos])]
    )
    return tokenizer


def build_tiny_xlmr(folder: Path, max_positions: int = 34) -> Path:
    """XLM-RoBERTa with 2 layers, hidden 32; RoBERTa positions make the max length ``max_positions - 2``."""
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    fast = PreTrainedTokenizerFast(
        tokenizer_object=_word_level(specials, ("<s>", "</s>")),
        bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>", cls_token="<s>", sep_token="</s>",
    )
    config = XLMRobertaConfig(
        vocab_size=len(specials) + len(WORDS), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=max_positions, pad_token_id=1, bos_token_id=0, eos_token_id=2,
    )
    torch.manual_seed(0)
    XLMRobertaModel(config).eval().save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def build_tiny_st_bert(folder: Path, pooling: str = "cls", prompts: dict[str, str] | None = None) -> Path:
    """A sentence-transformers folder (modules.json, Pooling config, prompts) around a tiny random BERT."""
    specials = ["[PAD]", "[CLS]", "[SEP]", "[UNK]"]
    words = ["query", ":", "passage"]
    fast = PreTrainedTokenizerFast(
        tokenizer_object=_word_level(specials, ("[CLS]", "[SEP]")),
        cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", unk_token="[UNK]",
    )
    fast.add_tokens(words)
    config = BertConfig(
        vocab_size=len(fast), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64, pad_token_id=0,
    )
    torch.manual_seed(1)
    BertModel(config).eval().save_pretrained(folder)
    fast.save_pretrained(folder)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    mode_key = f"pooling_mode_{'cls_token' if pooling == 'cls' else pooling}"
    pooling_config = {"word_embedding_dimension": 32, mode_key: True}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling_config))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 16}))
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": prompts or {}}))
    return folder


def build_tiny_clip(folder: Path) -> Path:
    """A CLIPModel with 2-layer towers, projection 16, 30px images; tokenizer + image processor saved."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    specials = ["<|pad|>", "<|startoftext|>", "<|endoftext|>", "<|unk|>"]
    fast = PreTrainedTokenizerFast(
        tokenizer_object=_word_level(specials, ("<|startoftext|>", "<|endoftext|>")),
        bos_token="<|startoftext|>", eos_token="<|endoftext|>", pad_token="<|pad|>", unk_token="<|unk|>",
    )
    tower = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = CLIPConfig(
        text_config={**tower, "vocab_size": len(specials) + len(WORDS), "max_position_embeddings": 20,
                     "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2},
        vision_config={**tower, "image_size": 30, "patch_size": 10},
        projection_dim=16,
    )
    torch.manual_seed(2)
    CLIPModel(config).eval().save_pretrained(folder)
    fast.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 30}, crop_size={"height": 30, "width": 30}).save_pretrained(folder)
    return folder


LORA_CODE = '''
import torch
from transformers import XLMRobertaConfig, XLMRobertaModel


class TinyLoraConfig(XLMRobertaConfig):
    model_type = "tiny-lora-xlmr"


class TinyLoraModel(XLMRobertaModel):
    """Stands in for jina-embeddings-v3: one learned offset per task adapter, chosen by adapter_mask."""

    config_class = TinyLoraConfig

    def __init__(self, config):
        super().__init__(config)
        self.task_bias = torch.nn.Parameter(torch.randn(len(config.lora_adaptations), config.hidden_size))

    def forward(self, input_ids=None, attention_mask=None, adapter_mask=None, **kwargs):
        out = super().forward(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        if adapter_mask is not None:
            out.last_hidden_state = out.last_hidden_state + self.task_bias[adapter_mask.long()][:, None, :]
        return out
'''


def build_tiny_lora_model(folder: Path) -> Path:
    """A model folder with its own Python code (auto_map) and jina-v3-style `lora_adaptations`."""
    import importlib.util
    import sys

    build_tiny_xlmr(folder)
    (folder / "tiny_lora.py").write_text(LORA_CODE)
    spec = importlib.util.spec_from_file_location("tiny_lora_build", folder / "tiny_lora.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["tiny_lora_build"] = module
    spec.loader.exec_module(module)
    config = module.TinyLoraConfig.from_pretrained(folder)
    config.lora_adaptations = ["retrieval.query", "retrieval.passage"]
    config.task_instructions = {"retrieval.query": "hello ", "retrieval.passage": None}
    config.auto_map = {"AutoConfig": "tiny_lora.TinyLoraConfig", "AutoModel": "tiny_lora.TinyLoraModel"}
    torch.manual_seed(3)
    model = module.TinyLoraModel(config).eval()
    model.save_pretrained(folder)
    config.save_pretrained(folder)
    return folder


# -- Jina's own model families: self-written stand-ins (tests/model/jina_standins) saved as remote-code folders ------
JINA_STANDINS = Path(__file__).parent / "model" / "jina_standins"
JINA_TASKS = ["retrieval.query", "retrieval.passage", "separation", "classification", "text-matching"]
# jina-embeddings-v3's config.json `task_instructions`, as published (jina-clip-v2's text tower uses the same).
JINA_INSTRUCTIONS = {
    "retrieval.query": "Represent the query for retrieving evidence documents: ",
    "retrieval.passage": "Represent the document for retrieval: ",
    "separation": "",
    "classification": "",
    "text-matching": "",
}
JINA_WORDS = WORDS + "Represent query retrieving evidence documents document retrieval : photo cat".split()


def _jina_tokenizer() -> PreTrainedTokenizerFast:
    """XLM-RoBERTa's special tokens (pad id 1) over a word-level vocabulary that covers the instructions."""
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    return PreTrainedTokenizerFast(
        tokenizer_object=_word_level(specials, ("<s>", "</s>"), JINA_WORDS),
        bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>", cls_token="<s>", sep_token="</s>",
    )


def _with_code(folder: Path, files: list[str], config_updates: dict[str, object]) -> None:
    """Copy the stand-in modules into the folder and point config.json at them, as a published folder does."""
    for name in files:
        shutil.copy(JINA_STANDINS / name, folder / name)
    config_file = folder / "config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), **config_updates}, indent=2))


def build_jina_v3_standin(
    folder: Path, truncate_dim: int | None = None, emb_pooler: str | None = None, sentence_transformers: bool = True
) -> Path:
    """A jina-embeddings-v3-shaped folder: config.json with Jina's fields and an ``auto_map`` to the stand-in
    ``modeling_lora.XLMRobertaLoRA`` (architectures ``XLMRobertaModel``, as published), safetensors weights, an
    XLM-R-style tokenizer and, optionally, the sentence-transformers files (modules.json, mean Pooling)."""
    from tests.model.jina_standins.configuration_xlm_roberta import XLMRobertaFlashConfig
    from tests.model.jina_standins.modeling_lora import XLMRobertaLoRA

    fast = _jina_tokenizer()
    config = XLMRobertaFlashConfig(
        vocab_size=len(fast), lora_adaptations=list(JINA_TASKS), task_instructions=dict(JINA_INSTRUCTIONS),
        matryoshka_dimensions=[8, 16, 32], truncate_dim=truncate_dim, emb_pooler=emb_pooler,
    )
    torch.manual_seed(4)
    XLMRobertaLoRA(config).eval().save_pretrained(folder)
    fast.save_pretrained(folder)
    _with_code(folder, ["configuration_xlm_roberta.py", "modeling_lora.py"], {
        "architectures": ["XLMRobertaModel"],
        "auto_map": {"AutoConfig": "configuration_xlm_roberta.XLMRobertaFlashConfig",
                     "AutoModel": "modeling_lora.XLMRobertaLoRA"},
    })
    if sentence_transformers:
        modules = [
            {"idx": 0, "name": "transformer", "path": "", "type": "custom_st.Transformer", "kwargs": ["task"]},
            {"idx": 1, "name": "pooler", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "normalizer", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ]
        (folder / "modules.json").write_text(json.dumps(modules))
        (folder / "1_Pooling").mkdir(exist_ok=True)
        pooling = {"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True}
        (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return folder


def build_jina_clip_standin(folder: Path, truncate_dim: int | None = None, add_projections: bool = False) -> Path:
    """A jina-clip-v2-shaped folder: ``model_type`` ``jina_clip``, ``auto_map`` to the stand-in
    ``modeling_clip.JinaCLIPModel``, the image processor's ``auto_map`` to ``processing_clip.JinaCLIPImageProcessor``
    (24 px), an XLM-R-style tokenizer; towers of width 24 giving 16-wide vectors (12 with projections)."""
    from tests.model.jina_standins.configuration_clip import JinaCLIPConfig
    from tests.model.jina_standins.modeling_clip import JinaCLIPModel
    from tests.model.jina_standins.processing_clip import JinaCLIPImageProcessor

    fast = _jina_tokenizer()
    text_tower = {"vocab_size": len(fast), "hidden_size": 24, "max_position_embeddings": 34, "pad_token_id": 1,
                  "lora_adaptations": list(JINA_TASKS), "task_instructions": dict(JINA_INSTRUCTIONS)}
    config = JinaCLIPConfig(
        text_config={"embed_dim": 16, "hf_model_config_kwargs": text_tower, "default_lora_task": "retrieval.query"},
        vision_config={"embed_dim": 16, "width": 24, "image_size": 24, "patch_size": 8},
        add_projections=add_projections, projection_dim=12, matryoshka_dimensions=[4, 8, 12, 16],
        truncate_dim=truncate_dim,
    )
    torch.manual_seed(5)
    JinaCLIPModel(config).eval().save_pretrained(folder)
    fast.save_pretrained(folder)
    JinaCLIPImageProcessor(size=24).save_pretrained(folder)
    processor_file = folder / "preprocessor_config.json"
    processor = json.loads(processor_file.read_text())
    processor.update(image_processor_type="JinaCLIPImageProcessor",
                     auto_map={"AutoImageProcessor": "processing_clip.JinaCLIPImageProcessor"})
    processor_file.write_text(json.dumps(processor, indent=2))
    _with_code(folder, ["configuration_clip.py", "modeling_clip.py", "processing_clip.py"], {
        "architectures": ["JinaCLIPModel"],
        "auto_map": {"AutoConfig": "configuration_clip.JinaCLIPConfig", "AutoModel": "modeling_clip.JinaCLIPModel"},
    })
    return folder
