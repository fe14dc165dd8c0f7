"""prepare -> train_mlp -> explain on real credit-g data, MLflow in a temp store."""

import json
from pathlib import Path

import numpy as np
import yaml

from glassworks import tracking
from stages import explain, prepare, train_mlp
from stages.common import run_main

REPO = Path(__file__).resolve().parents[2]
DS = "openml-37"


def test_train_mlp_then_explain(tmp_path: Path, raw_dir: Path) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train_mlp"]["epochs"] = 30
    params["explain"]["settings"].update(n_examples=8, eg_samples=16, background=50)
    params["explain"]["models"] = {
        "mlp": {"kind": "mlp", "model": str(tmp_path / "mlp" / DS), "dataset": DS}
    }
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(params))
    common = ["--params", str(p), "--root", str(REPO)]
    assert (
        run_main(
            prepare.main,
            [
                "--dataset",
                DS,
                *common,
                "--raw-dir",
                str(raw_dir),
                "--out-dir",
                str(tmp_path / "prepared"),
                "--metrics-dir",
                str(tmp_path / "m/prepare"),
            ],
        )
        == 0
    )
    assert (
        run_main(
            train_mlp.main,
            [
                "--dataset",
                DS,
                *common,
                "--prepared-dir",
                str(tmp_path / "prepared"),
                "--out-dir",
                str(tmp_path / "mlp"),
                "--metrics-dir",
                str(tmp_path / "m/train_mlp"),
            ],
        )
        == 0
    )
    mlp_metrics = json.loads((tmp_path / "m/train_mlp" / f"{DS}.json").read_text())
    assert mlp_metrics["accuracy"] > 0.6
    assert (
        run_main(
            explain.main,
            [
                "--model",
                "mlp",
                *common,
                "--prepared-dir",
                str(tmp_path / "prepared"),
                "--out-dir",
                str(tmp_path / "expl"),
                "--metrics-dir",
                str(tmp_path / "m/explain"),
            ],
        )
        == 0
    )
    stats = json.loads((tmp_path / "m/explain/mlp.json").read_text())
    assert stats["ig_completeness_relative"]["max"] < 1e-4
    assert stats["ih_total_relative"]["max"] < 1e-4
    out = tmp_path / "expl" / "mlp"
    arrays = np.load(out / "attributions.npz")
    assert arrays["ih"].shape == (8, 8, 8)
    np.testing.assert_allclose(arrays["ih"].sum(2), arrays["ig"], atol=1e-6)
    assert len(list(out.glob("*.png"))) == 5
    (run,) = tracking.find_runs("explain", "mlp")
    assert run.data.metrics["ig_completeness_relative.max"] < 1e-4


def test_unknown_model_name(tmp_path: Path) -> None:
    assert run_main(explain.main, ["--model", "nope", "--root", str(REPO)]) == 1
