"""Shared fixtures: real data from ../shared, a temp MLflow store for every test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()


@pytest.fixture(autouse=True)
def _mlflow_store(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Point MLflow at a sqlite file under a temp dir in every test (never ./mlruns)."""
    store = tmp_path_factory.mktemp("mlruns")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return store


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets beside the repo (``../shared/data``), as CI has them."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} not found: the tests need ../shared beside the repo")
    return SHARED_DATA


@pytest.fixture(scope="session")
def raw_dir(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """``data/raw`` as ``dvc pull`` lays it out, built from symlinks into ../shared/data."""
    raw = tmp_path_factory.mktemp("raw")
    (raw / "sst2").symlink_to(shared_data / "sst2")
    (raw / "amazon").symlink_to(shared_data / "amazon")
    (raw / "essays").symlink_to(shared_data / "asap")
    openml = raw / "openml"
    openml.mkdir()
    for sub in ("arff", "metadata"):
        for f in (shared_data / "openml" / sub).iterdir():
            (openml / f.name).symlink_to(f)
    return raw


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 1-layer BERT (hidden 16) with MiniLM's tokenizer, saved to disk."""
    import shutil

    import torch
    from transformers import BertConfig, BertModel

    from glassworks.embed.encoder import default_model_path

    folder = tmp_path_factory.mktemp("tiny-bert")
    src = Path(default_model_path())
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        if (src / name).exists():
            shutil.copy(src / name, folder / name)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (Prefect's client services, e.g. the
    events worker, are process-wide: a second harness would leave them pointing at the first)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
