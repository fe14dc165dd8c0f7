"""MLflow tracking: the only module that imports mlflow.

Default store: ``sqlite:///<root>/mlruns/mlflow.db``, artifacts under ``<root>/mlruns/artifacts``;
``MLFLOW_TRACKING_URI`` (a shared server for a team) overrides it. One run per stage and item,
named ``<stage>@<item>`` like DVC's stage address, tagged with provenance (git commit, the
stage's input hashes as DVC computes them).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glassworks.errors import Terminated, TrackingError
from glassworks.io import BUNDLE_KEYS, read_pickle

log = logging.getLogger(__name__)


class _LazyModule:
    """A module imported on first attribute access: ``import mlflow`` takes 1-2 s (pandas 0.3 s),
    which a stage that only logs at its end should not pay before its first line of work."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


if TYPE_CHECKING:
    import mlflow
    import pandas as pd
    from mlflow.tracking import MlflowClient
else:
    mlflow = _LazyModule("mlflow")
    pd = _LazyModule("pandas")

    def MlflowClient(uri: str) -> Any:  # noqa: N802 - stands in for the class
        """``mlflow.tracking.MlflowClient(uri)``, mlflow imported on first use."""
        return importlib.import_module("mlflow.tracking").MlflowClient(uri)


DEFAULT_STORE = "mlruns/mlflow.db"
_BAD_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")


def tracking_uri(root: str | Path = ".") -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the sqlite store under ``root/mlruns``."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    db = (Path(root) / DEFAULT_STORE).resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{db}"


_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def redact(uri: str) -> str:
    """``uri`` with any ``user:password@`` part replaced by ``***@`` (safe to log or tag)."""
    return _CREDENTIALS.sub(r"\g<scheme>***@", uri)


def _artifact_location(uri: str, experiment: str) -> str | None:
    """Local sqlite stores keep artifacts beside the database; servers choose their own."""
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///") :])
        return (db.parent / "artifacts" / experiment).resolve().as_uri()
    return None


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; keys made safe for MLflow."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = _BAD_KEY.sub("_", f"{prefix}{key}")
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _unavailable(uri: str, exc: BaseException) -> TrackingError:
    first = redact((str(exc).strip().splitlines() or [type(exc).__name__])[0][:300])
    return TrackingError(
        f"MLflow store {redact(uri)} is unavailable ({type(exc).__name__}: {first}); "
        "set MLFLOW_TRACKING_URI to a reachable, writable store"
    )


EXPERIMENT_KIND = "custom_model_development"
"""``mlflow.experimentKind``: the MLflow UI opens such an experiment on its training runs, not
on the GenAI traces overview."""

_MLFLOW_TYPES = {"Float64": "double", "Float32": "float", "Int64": "long", "Int32": "integer",
                 "Boolean": "boolean"}  # fmt: skip


@dataclass(frozen=True)
class DatasetInput:
    """A DVC-versioned file a run read, for the run's MLflow *Datasets* panel."""

    name: str
    digest: str
    """The file's DVC (md5) hash."""
    source: str
    """Its path in the repository."""
    columns: Mapping[str, str]
    """Column name -> polars dtype (``Float64``, ``String``, ``Enum([...])``, ...)."""
    context: str
    """What the run used it for (``train``, ``valid``, ``test``)."""

    def to_mlflow(self) -> Any:
        """An MLflow ``MetaDataset`` (no data loaded: name, digest, source and schema only)."""
        import warnings

        from mlflow.data.dataset_source_registry import resolve_dataset_source
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.types import ColSpec, Schema

        schema = Schema(
            [ColSpec(_MLFLOW_TYPES.get(t, "string"), n) for n, t in self.columns.items()]
        )
        with warnings.catch_warnings():  # "can be interpreted in multiple ways": a local file
            warnings.simplefilter("ignore", UserWarning)
            source = resolve_dataset_source(self.source)
        return MetaDataset(
            source, name=self.name, digest=self.digest[:36],
            schema=schema,
        )  # fmt: skip


@dataclass
class StageRun:
    """Handle on a stage's run, passed to the stage body.

    With ``best_effort``, a run whose store fails is *detached*: the failure is logged once as a
    warning and every later call is a no-op, so the stage still finishes its DVC outputs.
    ``run_id`` is None when the run never started.
    """

    run_id: str | None
    experiment_id: str | None
    uri: str = ""
    best_effort: bool = False
    detached: bool = False

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.detached:
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not self.best_effort:
                raise
            self.detached = True
            log.warning(
                "%s; tracking is best-effort, so the stage goes on without MLflow from %s on "
                "(run %s is incomplete)",
                _unavailable(self.uri, exc),
                what,
                self.run_id or "not started",
            )
            return None

    def log_metrics(self, metrics: Mapping[str, Any]) -> None:
        """Log every numeric leaf of a (nested) metrics mapping."""
        flat = {
            k: float(v)
            for k, v in flatten(metrics).items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        self._call("log_metrics", mlflow.log_metrics, flat)

    def log_dict(self, data: Mapping[str, Any], name: str) -> None:
        """Log a JSON artifact."""
        self._call(f"log_dict({name})", mlflow.log_dict, dict(data), name)

    def log_artifact(self, path: str | Path, folder: str | None = None) -> None:
        """Log a file (HTML, PNG, JSON) as an artifact."""
        self._call(f"log_artifact({Path(path).name})", mlflow.log_artifact, str(path), folder)

    def log_text_model(self, path: str | Path, example_texts: list[str], model: Any = None) -> None:
        """:func:`log_text_model` in this run."""
        self._call("log_text_model", log_text_model, path, example_texts, model=model)

    def log_tabular_model(
        self, path: str | Path, bundle: dict[str, Any], example: pd.DataFrame
    ) -> None:
        """:func:`log_tabular_model` in this run."""
        self._call("log_tabular_model", log_tabular_model, path, bundle, example)

    def find_runs(self, stage: str, item: str | None = None, root: str | Path = ".") -> list[Any]:
        """:func:`find_runs` (none once the run is detached)."""
        return self._call("find_runs", find_runs, stage, item, root) or []

    def register_champion(
        self,
        run_id: str,
        name: str,
        alias: str,
        root: str | Path = ".",
        *,
        move_alias: bool = True,
        tags: Mapping[str, str] | None = None,
    ) -> int | None:
        """:func:`register_champion` (None once the run is detached)."""
        return self._call(
            "register_champion", register_champion, run_id, name, alias, root=root,
            move_alias=move_alias, tags=tags,
        )  # fmt: skip

    def champion_of(self, name: str, alias: str, root: str | Path = ".") -> tuple[int, str] | None:
        """:func:`champion_of` (None once the run is detached)."""
        return self._call("champion_of", champion_of, name, alias, root)

    def load_model(self, uri: str, root: str | Path = ".") -> Any:
        """:func:`load_model_bundle` (None once the run is detached)."""
        return self._call("load_model", load_model_bundle, uri, root)

    def log_to_run(self, run_id: str, path: str | Path, folder: str) -> None:
        """:func:`log_to_run` (no-op once the run is detached)."""
        self._call("log_to_run", log_to_run, run_id, path, folder, self.uri)


def _client(uri: str) -> MlflowClient:
    """A client of ``uri``. A local sqlite store is created (schema migrations) under an exclusive
    file lock beside the database: MLflow's first-use migration is not safe when several stages
    start at once on a fresh store (``table _alembic_tmp_experiments already exists``)."""
    if not uri.startswith("sqlite:///"):
        return MlflowClient(uri)
    import fcntl

    db = Path(uri[len("sqlite:///") :])
    db.parent.mkdir(parents=True, exist_ok=True)
    with (db.parent / f"{db.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        client = MlflowClient(uri)
        client.search_experiments(max_results=1)  # creates and migrates the store if new
    return client


def _experiment_id(
    client: MlflowClient, name: str, uri: str, description: str | None = None
) -> str:
    """The experiment ``name`` (created if new), tagged as model development (so the MLflow UI
    opens it on its runs) with ``description`` as its note, when it has none yet."""
    tags = {"mlflow.experimentKind": EXPERIMENT_KIND}
    if description:
        tags["mlflow.note.content"] = description
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(
                name, artifact_location=_artifact_location(uri, name), tags=tags
            )
        except mlflow.exceptions.MlflowException:  # created meanwhile by another process
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    for key, value in tags.items():  # experiments made before these tags existed
        if key not in exp.tags:
            client.set_experiment_tag(exp.experiment_id, key, value)
    return exp.experiment_id


@contextlib.contextmanager
def stage_run(
    stage: str,
    item: str,
    *,
    item_kind: str = "dataset",
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    root: str | Path = ".",
    run_name: str | None = None,
    best_effort: bool = False,
    description: str | None = None,
    inputs: Sequence[DatasetInput] = (),
) -> Iterator[StageRun]:
    """Open one MLflow run for ``stage`` on ``item`` (what this run of the stage is for: a dataset,
    a text model run, a model to explain, ...; tagged ``glassworks.item`` and
    ``glassworks.item_kind``); it ends FAILED if the body raises.

    An unreachable or unwritable store fails fast with :class:`TrackingError` naming it (HTTP
    stores get at most 2 retries and a 20 s timeout unless ``MLFLOW_HTTP_REQUEST_*`` say
    otherwise), before the stage does any work. With ``best_effort`` it is a warning instead and
    the body runs with a detached :class:`StageRun` (the same when the store fails mid-run).
    ``description`` becomes the experiment's note (when it has none); ``inputs`` fill the run's
    *Datasets* panel.
    """
    uri = tracking_uri(root)
    if uri.startswith(("http://", "https://")):
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    mlflow.set_tracking_uri(uri)
    all_tags = {
        "glassworks.stage": stage,
        "glassworks.item": item,
        "glassworks.item_kind": item_kind,
        **(tags or {}),
    }
    handle = StageRun(run_id=None, experiment_id=None, uri=uri, best_effort=best_effort)

    def start() -> None:
        experiment_id = _experiment_id(_client(uri), stage, uri, description)
        active = mlflow.start_run(
            experiment_id=experiment_id, run_name=run_name or f"{stage}@{item}", tags=all_tags
        )
        try:
            if params:
                mlflow.log_params({k: str(v) for k, v in flatten(params).items()})
            for entry in inputs:
                mlflow.log_input(entry.to_mlflow(), context=entry.context)
        except Exception:
            with contextlib.suppress(Exception):
                mlflow.end_run("FAILED")
            raise
        handle.run_id, handle.experiment_id = active.info.run_id, experiment_id

    if best_effort:
        handle._call("the start of the run", start)
    else:
        try:
            start()
        except Exception as exc:  # noqa: BLE001 - any store failure: one clear error
            raise _unavailable(uri, exc) from None
    if handle.run_id is not None:
        log.info("MLflow run %s (%s@%s) in %s", handle.run_id, stage, item, redact(uri))
    try:
        yield handle
    except BaseException as exc:
        if handle.run_id is not None:
            # Ctrl-C or SIGTERM: KILLED (stopped from outside), any other error: FAILED
            status = "KILLED" if isinstance(exc, KeyboardInterrupt | Terminated) else "FAILED"
            with contextlib.suppress(BaseException):  # the body's error is the one to report
                mlflow.end_run(status)
        raise
    if handle.run_id is not None:
        handle._call("the end of the run", mlflow.end_run, "FINISHED")
        if handle.detached:  # the run is left RUNNING in a store we cannot reach; try to fail it
            with contextlib.suppress(Exception):
                mlflow.end_run("FAILED")


_PYFUNC_NAMES = ("PickledTextModel", "PickledTabularModel")
_pyfunc: dict[str, type] = {}


def _pyfunc_classes() -> dict[str, type]:
    """The pyfunc wrappers, defined on first use (they subclass ``mlflow.pyfunc.PythonModel``, so
    defining them imports mlflow). Each is named ``glassworks.tracking.<name>`` so MLflow's pickle
    refers to it by that name, which the module's ``__getattr__`` resolves."""
    if _pyfunc:
        return _pyfunc

    class PickledTextModel(mlflow.pyfunc.PythonModel):
        """MLflow pyfunc over a glassworks text model: raw texts in, class probabilities out (a
        regressor: one ``prediction`` column).

        Input: a DataFrame with a ``text`` column (or a list of strings). A model saved as a folder
        brings its own ``loader`` (its class's ``load``, pickled by reference), so this module never
        imports a model class.
        """

        def __init__(self, loader: Callable[[Path], Any] | None = None) -> None:
            self.loader = loader

        def load_context(self, context):  # noqa: ANN001, ANN201 - MLflow inspects these hints
            path = Path(context.artifacts["model"])
            if path.is_dir():  # a model folder written by the model's own ``save``
                if self.loader is None:
                    raise TrackingError(f"{path}: a model folder logged without its loader")
                self.model = self.loader(path)
                return
            self.model = read_pickle(path)  # our own artifact, from the project's store

        def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # noqa: ANN001
            # typed: MLflow warns about an untyped predict; a DataFrame hint validates nothing extra
            texts = (
                model_input["text"].tolist()
                if isinstance(model_input, pd.DataFrame)
                else list(model_input)
            )
            if not hasattr(self.model, "predict_proba"):  # a regressor: predicted values
                return pd.DataFrame({"prediction": self.model.predict(texts)})
            proba = self.model.predict_proba(texts)
            names = [f"p_{c}" for c in self.model.classes_]  # one column per class
            return pd.DataFrame(proba, columns=names)

    class PickledTabularModel(mlflow.pyfunc.PythonModel):
        """MLflow pyfunc over a ``train_tabular`` bundle: raw feature columns in, probabilities
        out (a regression bundle, no label names: one ``prediction`` column)."""

        def load_context(self, context):  # noqa: ANN001, ANN201 - MLflow inspects these hints
            self.bundle = read_pickle(
                context.artifacts["model"], dict, BUNDLE_KEYS
            )  # our own artifact

        def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # noqa: ANN001
            import polars as pl

            encoder, model = self.bundle["encoder"], self.bundle["model"]
            frame = pl.from_pandas(pd.DataFrame(model_input))
            x = encoder.transform(frame)
            if not self.bundle["label_names"]:  # a regression target: predicted values
                return pd.DataFrame({"prediction": model.predict(x)})
            names = [f"p_{self.bundle['label_names'][int(c)]}" for c in model.classes_]
            return pd.DataFrame(model.predict_proba(x), columns=names)

    for cls in (PickledTextModel, PickledTabularModel):
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
        _pyfunc[cls.__name__] = cls
    return _pyfunc


def __getattr__(name: str) -> Any:
    """``PickledTextModel`` / ``PickledTabularModel`` (module attributes made on first use)."""
    if name in _PYFUNC_NAMES:
        return _pyfunc_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def log_text_model(
    pickle_path: str | Path, example_texts: list[str], name: str = "model", model: Any = None
) -> str:
    """Log a text model (a pickle, or a folder written by the model's ``save``) as a pyfunc with
    a signature and an input example; ``model`` is the same model already in memory (needed for a
    folder: its class's ``load`` reads the folder back)."""
    folder = Path(pickle_path).is_dir()
    if model is None and folder:
        raise ValueError(f"{pickle_path}: a model folder needs the model in memory (model=...)")
    if model is None:
        model = read_pickle(pickle_path)  # written by this run
    example = pd.DataFrame({"text": example_texts})
    PickledTextModel = _pyfunc_classes()["PickledTextModel"]  # noqa: N806
    wrapper = PickledTextModel()
    wrapper.model = model
    stored = PickledTextModel(loader=type(model).load if folder else None)
    return _log_pyfunc(wrapper, stored, pickle_path, example, name)


def _log_pyfunc(
    loaded: mlflow.pyfunc.PythonModel,
    stored: mlflow.pyfunc.PythonModel,
    artifact: str | Path,
    example: pd.DataFrame,
    name: str,
) -> str:
    """Log ``stored`` over ``artifact``; ``loaded`` (already holding the model) predicts on
    ``example`` once to infer the signature."""
    from mlflow.models import infer_signature

    output = loaded.predict(None, example)
    info = mlflow.pyfunc.log_model(
        name=name,
        python_model=stored,
        artifacts={"model": str(artifact)},
        signature=infer_signature(example, output),
        input_example=example,
        pip_requirements=["glassworks"],
    )
    return info.model_uri


def log_tabular_model(
    pickle_path: str | Path, bundle: dict[str, Any], example: pd.DataFrame, name: str = "model"
) -> str:
    """Log a ``train_tabular`` bundle (written at ``pickle_path``, in memory as ``bundle``) as a
    pyfunc (raw features -> class probabilities, or predicted values) with a signature and an
    input example."""
    PickledTabularModel = _pyfunc_classes()["PickledTabularModel"]  # noqa: N806
    wrapper = PickledTabularModel()
    wrapper.bundle = bundle
    return _log_pyfunc(wrapper, PickledTabularModel(), pickle_path, example, name)


def find_runs(stage: str, item: str | None = None, root: str | Path = ".") -> list[Any]:
    """Finished runs of a stage (optionally one item, see :func:`stage_run`), newest first."""
    uri = tracking_uri(root)
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(stage)
    if exp is None:
        return []
    query = f"tags.`glassworks.item` = '{item}'" if item else ""
    return client.search_runs(
        [exp.experiment_id], filter_string=query, order_by=["attributes.start_time DESC"]
    )


STOP_REASON_TAG = "glassworks.stop_reason"
"""Why a run's stage was stopped from outside (timeout, cancelled flow run, SIGTERM, Ctrl-C)."""


def close_stopped_runs(
    stage: str, item: str | None, since: float, reason: str, root: str | Path = "."
) -> int:
    """Record ``reason`` on the runs of a stage (and item) started at or after ``since`` (epoch
    seconds) that did not finish: each gets the tag ``glassworks.stop_reason``, and one still
    RUNNING (its process was killed before it could end the run) is ended KILLED. Returns how
    many runs were closed."""
    client = MlflowClient(tracking_uri(root))
    closed = 0
    for run in find_runs(stage, item, root):
        if run.info.start_time < since * 1000 - 1000 or run.info.status == "FINISHED":
            continue
        client.set_tag(run.info.run_id, STOP_REASON_TAG, reason)
        if run.info.status in ("RUNNING", "SCHEDULED"):
            client.set_terminated(run.info.run_id, "KILLED")
        closed += 1
    return closed


def load_text_model(uri: str, root: str | Path = ".") -> Any:
    """The text model (e.g. a ``TextClassifier``) behind a logged text model (``runs:/<id>/model``,
    ``models:/<name>@champion``) in the project's store (``MLFLOW_TRACKING_URI`` or ``root``'s).

    Raises ``FileNotFoundError`` with the URI when MLflow cannot resolve it.
    """
    model = load_model_bundle(uri, root)
    if isinstance(model, dict):
        raise FileNotFoundError(f"{uri}: a tabular model, not a text model")
    return model


def load_model_bundle(uri: str, root: str | Path = ".") -> Any:
    """What a logged glassworks model wraps: a ``TextClassifier`` for a text model, the
    ``train_tabular`` bundle (``encoder``, ``model``, ``label_names``, ``method``) for a tabular
    one. Raises ``FileNotFoundError`` with the URI when MLflow cannot resolve it."""
    mlflow.set_tracking_uri(tracking_uri(root))
    try:
        loaded = mlflow.pyfunc.load_model(uri)
    except (mlflow.exceptions.MlflowException, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FileNotFoundError(f"{uri}: no MLflow model there ({first})") from None
    inner = loaded.unwrap_python_model()
    tabular = _pyfunc_classes()["PickledTabularModel"]
    return inner.bundle if isinstance(inner, tabular) else inner.model


def champion_of(
    name: str, alias: str = "champion", root: str | Path = "."
) -> tuple[int, str] | None:
    """``(version, run_id)`` the alias points at, or None (no such model or alias)."""
    from mlflow.exceptions import MlflowException

    try:
        current = MlflowClient(tracking_uri(root)).get_model_version_by_alias(name, alias)
    except MlflowException:
        return None
    return int(current.version), str(current.run_id)


def register_champion(
    run_id: str,
    name: str,
    alias: str = "champion",
    artifact: str = "model",
    root: str | Path = ".",
    *,
    move_alias: bool = True,
    tags: Mapping[str, str] | None = None,
) -> int:
    """Register ``runs:/<run_id>/<artifact>`` as a version of model ``name`` (tagged ``tags``)
    and, with ``move_alias``, point ``alias`` at it; a no-op when the alias already points at a
    version of that run. Returns the version."""
    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    current = champion_of(name, alias, root)
    if current is not None and current[1] == run_id:
        return current[0]
    same_run = (
        client.search_model_versions(f"name='{name}' and run_id='{run_id}'")
        if current is not None
        else []
    )  # a candidate refused before is not registered twice
    version = same_run[0] if same_run else mlflow.register_model(f"runs:/{run_id}/{artifact}", name)
    for key, value in (tags or {}).items():
        client.set_model_version_tag(name, version.version, key, value)
    if move_alias:
        client.set_registered_model_alias(name, alias, version.version)
        client.set_model_version_tag(name, version.version, "glassworks.alias", alias)
    return int(version.version)


def stage_run_records(root: str | Path = ".") -> list[dict[str, Any]]:
    """Every run tagged ``glassworks.stage`` in the project's store (``MLFLOW_TRACKING_URI`` or
    ``root``'s), in every experiment, as plain records: ``stage``, ``item``, ``run_name``,
    ``start_ms``, ``end_ms`` (None while running), ``status``, ``parent_run_id`` (nested runs) and
    ``run_id`` (the fields of :class:`glassworks.report.timings.RunRecord`, plus the id).

    Runs logged before the ``glassworks.item`` tag existed give their ``glassworks.dataset`` tag
    as the item. Read-only; an unreachable store raises :class:`TrackingError` naming it.
    """
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(root)
    out: list[dict[str, Any]] = []
    try:
        client = MlflowClient(uri)
        ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
        token = None
        while ids:
            page = client.search_runs(
                ids,
                filter_string="tags.`glassworks.stage` != ''",
                run_view_type=ViewType.ACTIVE_ONLY,
                max_results=1000,
                page_token=token,
            )
            for run in page:
                tags = run.data.tags
                out.append(
                    {
                        "stage": tags["glassworks.stage"],
                        "item": tags.get("glassworks.item") or tags.get("glassworks.dataset", "?"),
                        "run_name": run.info.run_name or run.info.run_id,
                        "start_ms": int(run.info.start_time or 0),
                        "end_ms": run.info.end_time,
                        "status": run.info.status,
                        "parent_run_id": tags.get("mlflow.parentRunId"),
                        "run_id": run.info.run_id,
                    }
                )
            token = page.token
            if not token:
                break
    except Exception as exc:  # noqa: BLE001 - any store failure: one clear error
        raise _unavailable(uri, exc) from None
    return out


def model_run_tags(uri: str, root: str | Path = ".") -> dict[str, str]:
    """The tags of the run that logged the model at ``uri`` (``models:/NAME/VERSION``,
    ``models:/NAME@ALIAS`` or ``runs:/<id>/...``): its stage, item and input hashes. Raises
    ``FileNotFoundError`` naming the URI when it resolves to nothing."""
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri(root))
    try:
        if uri.startswith("runs:/"):
            run_id = uri[len("runs:/") :].split("/", 1)[0]
        elif uri.startswith("models:/"):
            ref = uri[len("models:/") :]
            if "@" in ref:
                name, alias = ref.split("@", 1)
                run_id = client.get_model_version_by_alias(name, alias).run_id
            else:
                name, _, version = ref.partition("/")
                run_id = client.get_model_version(name, version).run_id
        else:
            raise FileNotFoundError(f"{uri}: not a runs:/ or models:/ URI")
        return dict(client.get_run(run_id).data.tags)
    except MlflowException as exc:
        raise FileNotFoundError(f"{uri}: {str(exc).splitlines()[0]}") from None


def log_comparison(
    card: str | Path, summary: Mapping[str, Any], tags: Mapping[str, str], root: str | Path = "."
) -> str:
    """Log an explanation comparison (its card and figures) as a run of the experiment
    ``compare_explanations``; returns the run id."""
    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    client = _client(uri)
    experiment_id = _experiment_id(
        client, "compare_explanations", uri,
        "Explanation drift between two model versions (glassworks compare-explanations): "
        "each run's card is explanation_drift.html.",
    )  # fmt: skip
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=tags.get("glassworks.compared", None), tags=dict(tags)
    ) as run:
        numbers = {k: float(v) for k, v in summary.items() if isinstance(v, int | float)}
        mlflow.log_metrics(numbers)
        mlflow.log_dict(dict(summary), "explanation_drift.json")
        mlflow.log_artifact(str(card))
        return run.info.run_id


def log_to_run(run_id: str, path: str | Path, folder: str, uri: str | None = None) -> None:
    """Log ``path`` under ``folder`` in another (finished) run, e.g. a card beside the model of
    the run that trained it."""
    client = MlflowClient(uri or tracking_uri("."))
    client.log_artifact(run_id, str(path), folder)
