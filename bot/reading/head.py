"""The reading model's head: the cosine of the question's and the passage's pooled states.

Question and passage are encoded together (each attends to the other: a cross-encoder), then
the question's tokens and the passage's tokens are mean-pooled apart and compared by cosine,
scaled to a logit. At the start of training this is e5's own bi-encoder similarity (mean
pooling is how e5 was trained), so fine-tuning begins from a ranker that already works
instead of from a random classifier over a [CLS] state e5 never used, which did not learn in
the steps this machine can afford. Training-only (torch); the run-time reads the ONNX export.
"""

from __future__ import annotations

from typing import Any

import torch
from sentence_transformers.base.modules import Module

EOS_ID = 2  # XLM-R's </s>: the question ends at the first one


def question_mask(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Return 1 for the question's tokens (<s> up to the first </s>), 0 elsewhere."""
    first_eos = (input_ids == EOS_ID).int().argmax(dim=1, keepdim=True)
    positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
    return (positions <= first_eos).to(attention_mask.dtype) * attention_mask


def pair_logit(
    states: torch.Tensor,
    attention_mask: torch.Tensor,
    q_mask: torch.Tensor,
    scale: torch.Tensor,
    bias: torch.Tensor,
) -> torch.Tensor:
    """Return scale * cosine(question mean, passage mean) + bias, one per row."""
    mask = attention_mask.to(states.dtype)
    q = q_mask.to(states.dtype)
    p = mask - q
    q_mean = (states * q.unsqueeze(-1)).sum(1) / q.sum(1, keepdim=True).clamp(min=1.0)
    p_mean = (states * p.unsqueeze(-1)).sum(1) / p.sum(1, keepdim=True).clamp(min=1.0)
    cosine = torch.nn.functional.cosine_similarity(q_mean, p_mean, dim=-1)
    return scale * cosine + bias


class PairCosine(Module):
    """A CrossEncoder module: token embeddings in, one relevance logit ("scores") out."""

    config_keys = ["init_scale", "init_bias"]  # noqa: RUF012 (the base class declares it so)

    def __init__(self, init_scale: float = 20.0, init_bias: float = -16.0) -> None:
        super().__init__()
        self.init_scale = init_scale
        self.init_bias = init_bias
        # e5's cosines sit between ~0.7 and ~0.9: a wide scale makes them a usable logit.
        self.scale = torch.nn.Parameter(torch.tensor(float(init_scale)))
        self.bias = torch.nn.Parameter(torch.tensor(float(init_bias)))

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Add the "scores" (batch, 1) computed from the token embeddings."""
        attention = features["attention_mask"]
        q_mask = question_mask(features["input_ids"], attention)
        logit = pair_logit(features["token_embeddings"], attention, q_mask, self.scale, self.bias)
        features["scores"] = logit.unsqueeze(1)
        return features

    def save(
        self, output_path: str, *args: Any, safe_serialization: bool = True, **kw: Any
    ) -> None:
        """Save the configuration and the two parameters."""
        self.save_config(output_path)
        self.save_torch_weights(output_path, safe_serialization=safe_serialization)

    @classmethod
    def load(  # type: ignore[override]
        cls, model_name_or_path: str, subfolder: str = "", **kwargs: Any
    ) -> PairCosine:
        """Load a saved head."""
        hub = {k: kwargs[k] for k in ("token", "cache_folder", "revision") if k in kwargs}
        config = cls.load_config(model_name_or_path=model_name_or_path, subfolder=subfolder, **hub)
        model = cls(**config)
        return cls.load_torch_weights(
            model_name_or_path=model_name_or_path, subfolder=subfolder, model=model, **hub
        )
