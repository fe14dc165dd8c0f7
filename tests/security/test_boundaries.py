"""Security boundaries: servers bind localhost by default, model weights load without code,
pickles only come from the project's own outputs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import torch

from flows.server import server_env

REPO = Path(__file__).resolve().parents[2]


def test_servers_bind_localhost_by_default(tmp_path: Path) -> None:
    env = server_env(tmp_path, 4200)
    assert env["PREFECT_SERVER_API_HOST"] == "127.0.0.1"
    assert env["PREFECT_API_URL"].startswith("http://127.0.0.1:")
    exposed = server_env(tmp_path, 4200, host="0.0.0.0")  # noqa: S104 - the explicit opt-in
    assert exposed["PREFECT_SERVER_API_HOST"] == "0.0.0.0"  # noqa: S104
    assert exposed["PREFECT_API_URL"].startswith("http://127.0.0.1:")  # clients stay local
    make = (REPO / "Makefile").read_text()
    assert re.search(r"^UI_HOST \?= 127\.0\.0\.1$", make, re.M)
    assert re.search(r"^SERVE_HOST \?= 127\.0\.0\.1$", make, re.M)
    dry = subprocess.run(["make", "-n", "ui", "serve"], cwd=REPO, capture_output=True, text=True)
    assert "--host 127.0.0.1" in dry.stdout
    assert dry.stdout.count("127.0.0.1") >= 2


def test_weights_load_without_code(tmp_path: Path) -> None:
    """The small models' weights are read with ``weights_only=True``: a pickle that would run
    code is refused."""
    from glassworks.models.text_classifier import TextClassifier

    texts = ["good film", "bad film"] * 4
    model = TextClassifier(backbone="lstm", tokenizer="word", vocab_size=20, d_model=4, epochs=1,
                           device="cpu").fit(texts, [1, 0] * 4)  # fmt: skip
    model.save(tmp_path / "m")

    class Evil:
        def __reduce__(self) -> tuple:
            return (Path.touch, (tmp_path / "pwned",))

    torch.save({"x": Evil()}, tmp_path / "m" / "model.pt")
    with pytest.raises(Exception, match="(?i)weights_only|unsupported|global"):
        TextClassifier.load(tmp_path / "m")
    assert not (tmp_path / "pwned").exists()


PICKLE_READERS = {
    "src/glassworks/io.py",  # io.read_pickle itself
    "src/glassworks/tracking.py",  # MLflow pyfunc wrappers of the project's own models
    "stages/explain.py",  # data/models/embgam/*, data/models/mlp/*: our own stage outputs
    "stages/reconcile_text.py",  # data/models/embgam/*: our own stage output
    "stages/audit_tabular.py",  # data/tabular/*: our own stage outputs
}


def test_every_pickle_load_reads_the_projects_own_outputs() -> None:
    """``pickle.load`` appears only where the project reads what its own stages wrote (each
    site says so), ``io.read_pickle`` only in the modules that read the project's own model
    files; ``torch.load`` always with ``weights_only=True``."""
    sites, readers = [], set()
    for path in [*REPO.glob("src/**/*.py"), *REPO.glob("stages/*.py"), *REPO.glob("flows/*.py")]:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if "pickle.load(" in line:
                sites.append((path.name, n, line))
                assert "our own" in line or "written by this run" in line, (path, n, line)
            if "read_pickle(" in line or "read_bundle(" in line:
                readers.add(path.relative_to(REPO).as_posix())
            if "torch.load(" in line:
                assert "weights_only=True" in line, (path, n, line)
    assert sites  # the check looked at something
    assert readers == PICKLE_READERS
