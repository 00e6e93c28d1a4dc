"""Tiny random BERT models built offline in a test: the plumbing, not the quality, is tested."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def tiny_bert(folder: Path, vocab: Sequence[str], head: str = "model", **config: Any) -> Path:
    """Save a 2-layer, 32-wide random BERT (model or one-logit classifier) and its tokenizer."""
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        BertModel,
        BertTokenizerFast,
    )

    # transformers 5 ignores vocab_file=; the vocabulary must be passed as vocab=
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, model_max_length=128)
    torch.manual_seed(0)
    settings = {
        "vocab_size": len(vocab),
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 128,
        **config,
    }
    model_class = BertForSequenceClassification if head == "classifier" else BertModel
    model_class(BertConfig(**settings)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
