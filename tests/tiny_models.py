"""Tiny BERT models built in the test session: a WordPiece vocabulary trained on test text with ``tokenizers``,
a 2-layer BERT (hidden 32) wrapped as a sentence-transformers bi-encoder (mean pooling + normalize) and as a
``CrossEncoder``. Nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

WORDS = (
    "the a of and to in is for on with as by at from protein cell gene cancer virus vaccine patients study "
    "blood risk disease treatment effect dose trial mouse human brain heart lung liver kidney tumor immune "
    "response infection increase decrease reduce cause associated with higher lower levels expression "
    "search engine retrieval dense passage query document index vector model train loss positive negative "
    "paris france capital london england berlin germany rome italy river mountain city population water"
).split()


def training_text() -> list[str]:
    """Deterministic sentences covering :data:`WORDS`, used to train the vocabulary."""
    return [" ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(12)) for i in range(200)]


def build_tokenizer_dir(out: Path, extra_text: list[str] | None = None) -> Path:
    """Train a WordPiece tokenizer and save it as a Hugging Face ``BertTokenizerFast`` in ``out``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = trainers.WordPieceTrainer(vocab_size=800, special_tokens=special)
    tokenizer.train_from_iterator(training_text() + list(extra_text or []), trainer=trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    fast = BertTokenizerFast(tokenizer_object=tokenizer, model_max_length=128)
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out))
    return out


def _bert_config(vocab_size: int, **extra):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        **extra,
    )


def build_bi_encoder(out: Path, seed: int = 0) -> Path:
    """A sentence-transformers checkpoint (Transformer -> mean Pooling -> Normalize) saved in ``out``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import AutoTokenizer, BertModel

    torch.manual_seed(seed)
    backbone_dir = out.parent / f"{out.name}-backbone"
    build_tokenizer_dir(backbone_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(backbone_dir))
    BertModel(_bert_config(len(tokenizer))).save_pretrained(str(backbone_dir))
    transformer = Transformer(str(backbone_dir), max_seq_length=64)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")
    model.save(str(out))
    return out


def build_cross_encoder(out: Path, seed: int = 0) -> Path:
    """A ``CrossEncoder`` checkpoint (BERT with one regression label) saved in ``out``."""
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    torch.manual_seed(seed)
    build_tokenizer_dir(out)
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    BertForSequenceClassification(_bert_config(len(tokenizer), num_labels=1)).save_pretrained(str(out))
    return out
