"""Typed, frozen parameters parsed from ``params.yaml``.

Every section is a pydantic model with ``extra="forbid"``: an unknown or misspelt key is an error
that names the key's full path. The library never finds ``params.yaml`` itself; the stages pass the
path (``load_params(path)``) or the already-parsed section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    ValidationError,
    model_validator,
)

from glassworks.errors import ConfigError

AMAZON_CATEGORIES = ("All_Beauty", "AMAZON_FASHION", "Appliances")


def plain_name(name: str) -> str:
    """Names become file and folder names (``data/models/<name>``): no path tricks."""
    if not name or name in {".", ".."} or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"name {name!r} must be a plain file name (no '/', no leading '.')")
    if any(ord(c) < 32 for c in name):
        raise ValueError(f"name {name!r} contains a control character")
    return name


Name = Annotated[str, AfterValidator(plain_name)]
"""A dataset, run or model name: it becomes a file or folder name."""
Seed = Annotated[int, Field(ge=0)]
"""A random seed (numpy refuses negative ones)."""


class Frozen(BaseModel):
    """Base for every parameter model: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


V = TypeVar("V")


def entry(mapping: dict[str, V], name: str, where: str) -> V:
    """``mapping[name]``; an unknown name is a ConfigError naming ``where`` and the known keys."""
    if name not in mapping:
        known = ", ".join(sorted(mapping))
        raise ConfigError(f"{where}: unknown entry {name!r} (known: {known})")
    return mapping[name]


class SplitParams(Frozen):
    """How every dataset is split (stratified by label)."""

    seed: Seed = 0
    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    valid_size: float = Field(0.1, gt=0.0, lt=1.0)


class _DatasetBase(Frozen):
    undersample: bool = False
    """Undersample majority classes of the *train* split down to the minority count."""


class Sst2Dataset(_DatasetBase):
    source: Literal["sst2"]


class AmazonDataset(_DatasetBase):
    source: Literal["amazon"]
    category: Literal["All_Beauty", "AMAZON_FASHION", "Appliances"]


class EssaysDataset(_DatasetBase):
    source: Literal["essays"]
    n_bins: int = Field(4, ge=2, le=10)
    binning: Literal["range", "quantile"] = "range"
    """``range``: equal-width bins over each essay set's official score range (fixed, no data
    used); ``quantile``: equal-frequency edges from each set's *train* split scores."""
    essay_sets: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)


class OpenMLDataset(_DatasetBase):
    source: Literal["openml"]
    openml_id: int = Field(gt=0)
    online: bool = False
    """Fetch through ``openml.datasets.get_dataset`` instead of the DVC-tracked ARFF."""
    drop_columns: tuple[str, ...] = ()
    """Feature columns removed before splitting (e.g. copies of the label: target leakage)."""


FILE_SOURCES = ("csv", "tsv", "jsonl", "parquet", "arff", "hf")
"""Generic sources: any file of these formats (under ``data/raw/<source>/``) or a Hugging Face
dataset; the entry maps its columns."""


class FileDataset(_DatasetBase):
    """Your own data: a CSV/TSV/JSONL/Parquet/ARFF file or a Hugging Face dataset.

    Modality is ``text`` when ``text`` names a column, else ``tabular``; the task is inferred
    from the label column unless ``task`` is given (see ``glassworks.data.files``)."""

    source: Literal["csv", "tsv", "jsonl", "parquet", "arff", "hf"]
    path: str | None = None
    """File (or, for ``hf``, a ``save_to_disk`` folder) relative to ``data/raw/<source>/``."""
    hub: str | None = None
    """``hf`` only: a hub dataset name, loaded online (cached by ``datasets``) when no ``path``."""
    hub_config: str | None = None
    hub_split: str | None = None
    """``hf`` only: one split of the hub dataset; None = all its splits, used as given splits."""
    label: str = Field(min_length=1)
    """The label / target column."""
    text: str | None = None
    """The text column (a text dataset); None = a tabular dataset."""
    features: tuple[str, ...] | None = None
    """Tabular feature columns; None = every column not named elsewhere in the entry."""
    id: str | None = None
    """A column of unique row ids (else the row number is the id)."""
    group: str | None = None
    """Rows sharing this column's value (one user, one sentence) land in one split."""
    given_split: str | None = None
    """A column saying each row's split (train / valid|validation|dev / test)."""
    task: Literal["binary", "multiclass", "ordinal", "regression"] | None = None
    """Override the inferred task."""
    label_names: tuple[str, ...] | None = None
    """Class order (ordinal tasks: lowest first); None = natural order of the label values."""
    categorical: tuple[str, ...] = ()
    """Columns forced categorical (overrides inference)."""
    numeric: tuple[str, ...] = ()
    """Columns forced numeric (overrides inference)."""
    drop_columns: tuple[str, ...] = ()
    header: bool = True
    """csv/tsv: whether the first line names the columns (else ``column_1``, ``column_2``, ...)."""
    delimiter: str | None = Field(None, min_length=1, max_length=1)
    """csv only: the field separator (default ``,``)."""

    @model_validator(mode="after")
    def _check(self) -> FileDataset:
        if self.source == "hf":
            if not self.path and not self.hub:
                raise ValueError("source hf needs 'path' (a saved dataset folder) or 'hub'")
        elif not self.path:
            raise ValueError(
                f"source {self.source} needs 'path' (relative to data/raw/{self.source}/)"
            )
        elif Path(self.path).is_absolute() or ".." in Path(self.path).parts:
            raise ValueError(f"path {self.path!r} must lie under data/raw/{self.source}/")
        if self.source != "hf" and (self.hub or self.hub_config or self.hub_split):
            raise ValueError("hub, hub_config and hub_split are for source hf only")
        if self.delimiter is not None and self.source != "csv":
            raise ValueError("delimiter is for source csv only (tsv is tab-separated)")
        both = set(self.categorical) & set(self.numeric)
        if both:
            raise ValueError(f"columns {sorted(both)} are both categorical and numeric")
        roles = [self.label, self.text, self.id, self.group, self.given_split]
        named = [r for r in roles if r]
        if len(named) != len(set(named)):
            raise ValueError("label, text, id, group and given_split must name different columns")
        if self.text is not None and self.features is not None:
            raise ValueError("a text dataset (text set) takes no 'features'")
        return self


DatasetParams = Annotated[
    Sst2Dataset | AmazonDataset | EssaysDataset | OpenMLDataset | FileDataset,
    Field(discriminator="source"),
]


TEXT_SOURCES = ("sst2", "amazon", "essays")


def modality(params: DatasetParams) -> Literal["text", "tabular"]:
    """A dataset entry's modality, known from the entry alone (no data read)."""
    if isinstance(params, FileDataset):
        return "text" if params.text else "tabular"
    return "text" if params.source in TEXT_SOURCES else "tabular"


def unwired(
    data: dict[str, Any], name: str, entry: DatasetParams, task: str | None = None
) -> list[str]:
    """The params sections a ``prepare.datasets`` entry is missing from, for the stages that
    apply to it (DVC's ``foreach`` cannot filter by modality, so these lists switch a dataset
    on per stage); ``data`` is the whole params file as read, ``task`` the inferred task when
    known (a text regression has no text-classifier run)."""

    def listed(dotted: str) -> bool:
        node: Any = data
        for key in dotted.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        return node is not None and name in node

    if modality(entry) == "text":
        runs = (data.get("train_text") or {}).get("runs") or {}
        missing = [] if listed("embed.datasets") else ["embed.datasets"]
        regression = task == "regression" or (
            isinstance(entry, FileDataset) and entry.task == "regression"
        )
        if not regression and not any(
            isinstance(r, dict) and r.get("dataset") == name for r in runs.values()
        ):
            missing.append("train_text.runs")
        return missing
    return [s for s in ("train_tabular.datasets", "audit_tabular.datasets") if not listed(s)]


class PrepareParams(Frozen):
    """``prepare`` stage: the shared split and one entry per dataset."""

    split: SplitParams = SplitParams()
    datasets: dict[Name, DatasetParams]

    def dataset(self, name: str) -> DatasetParams:
        """The parameters of one dataset; the error lists the known names."""
        return entry(self.datasets, name, "prepare.datasets")


class EmbedDataset(Frozen):
    """Per-dataset n-gram rule for Emb-GAM (Singh & Gao 2022)."""

    ngram_order: int = Field(2, ge=1, le=7)
    ngram_mode: Literal["all", "exact"] = "all"
    stopwords: bool = False
    min_frequency: int = Field(1, ge=1)
    train_subsample: int | None = Field(None, ge=1)
    """Use at most this many train texts (seeded), to fit the CPU time budget; None = all."""


class EncoderParams(Frozen):
    """The pretrained LM that embeds n-grams (any Hugging Face model name or folder)."""

    model: str = "default"
    """``default`` = the offline all-MiniLM-L6-v2; a fine-tuned checkpoint folder works too."""
    pooling: Literal["mean", "cls", "pooler"] = "mean"
    layer: int = -1
    max_length: int = Field(32, ge=2)
    batch_size: int = Field(256, ge=1)
    device: str = "auto"
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"


class EmbedParams(Frozen):
    """``embed`` stage: the encoder (shared by all datasets) and each dataset's n-grams."""

    encoder: EncoderParams = EncoderParams()
    cache_dir: str = ".cache/embeddings"
    seed: Seed = 0
    datasets: dict[Name, EmbedDataset]

    def dataset(self, name: str) -> EmbedDataset:
        """One dataset's n-gram rule; the error lists the known names."""
        return entry(self.datasets, name, "embed.datasets")


class TrainEmbGAMParams(Frozen):
    """``train_embgam`` stage: the linear model and the baselines."""

    normalize: bool = True
    Cs: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)
    max_iter: int = Field(2000, ge=10)
    class_weight: Literal["balanced"] | None = None
    residuals: tuple[NonNegativeFloat, ...] = Field((0.0,), min_length=1)
    """Scales of each training n-gram's own weight on top of its embedding's, chosen on
    validation (0: the paper's Emb-GAM; :class:`~glassworks.models.emb_gam.EmbGAMClassifier`)."""
    baseline_Cs: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
    n_explain: int = Field(20, ge=0)
    """Test texts explained n-gram by n-gram in the HTML report."""
    top_k: int = Field(20, ge=1)
    seed: Seed = 0


class TrainMLPParams(Frozen):
    """``train_mlp`` stage: a small softplus MLP on tabular datasets (explainer target)."""

    hidden: tuple[int, ...] = (64, 64)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    epochs: int = Field(200, ge=1)
    batch_size: int = Field(128, ge=1)
    patience: int = Field(20, ge=1)
    seed: Seed = 0
    datasets: tuple[str, ...] = ("openml-31",)


class ExplainSettings(Frozen):
    """How many examples and quadrature points every explanation uses."""

    n_examples: int = Field(50, ge=1)
    n_steps: int = Field(32, ge=2)
    ih_steps: int = Field(16, ge=2)
    eg_samples: int = Field(64, ge=1)
    background: int = Field(200, ge=1)
    seed: Seed = 0


class ExplainModel(Frozen):
    """One model to explain: its stage output folder and the dataset it was trained on."""

    kind: Literal["mlp", "embgam", "tabular"]
    """``mlp``/``tabular``: a ``model.pkl`` bundle of encoder + torch model; ``embgam``."""
    model: str
    dataset: str
    interactions: Literal["integrated", "expected"] = "integrated"
    """Integrated Hessians from the mean, or Expected Hessians over the training background."""


class ExplainParams(Frozen):
    """``explain`` stage."""

    settings: ExplainSettings = ExplainSettings()
    models: dict[Name, ExplainModel]

    def target(self, name: str) -> ExplainModel:
        """One entry of ``explain.models``; the error lists the known names."""
        return entry(self.models, name, "explain.models")


class TextModelParams(Frozen):
    """A text-classifier recipe (``train_text.models.<name>``); see ``TextClassifier``."""

    backbone: str = "small"
    """``small`` (the nlp-lime-ig transformer), ``default`` (offline MiniLM), an HF name/folder."""
    vocab_size: int = Field(5000, ge=100)
    max_length: int = Field(256, ge=8, le=4096)
    d_model: int = Field(128, ge=8)
    n_heads: int = Field(2, ge=1)
    d_ff: int = Field(512, ge=8)
    n_layers: int = Field(2, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=1)
    warmup: float = Field(0.1, ge=0, le=1)
    patience: int = Field(3, ge=1)

    @model_validator(mode="after")
    def _heads(self) -> TextModelParams:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        return self


TextLoss = Literal["ce", "weighted_ce", "ordinal"]


class TextChoice(Frozen):
    """Settings a text run tries on its first seed, keeping the one with the best validation
    ``select_on`` score (test is never read); the other seeds train with it. Each list replaces
    the run's own value; the candidates are every combination."""

    NAMES: ClassVar[tuple[str, ...]] = ("loss", "window_stride", "window_pool")

    loss: tuple[TextLoss, ...] = ()
    window_stride: tuple[Annotated[int, Field(ge=1)] | None, ...] = ()
    """``null``: texts cut to ``max_length`` tokens; a number: sliding windows of that stride."""
    window_pool: tuple[Literal["mean", "sum"], ...] = ()
    floor: Literal["majority"] | None = None
    """``majority``: only candidates whose validation accuracy beats the majority class's (the
    training split's most frequent class, scored on validation) compete on ``select_on``; if
    none beats it, the most accurate candidate is kept. None: ``select_on`` alone decides."""

    @model_validator(mode="after")
    def _distinct(self) -> TextChoice:
        for name in self.NAMES:
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"choose.{name}: {list(values)} repeats a value")
        return self

    def candidates(self) -> list[dict[str, Any]]:
        """Every combination, as ``TextClassifier`` overrides (first: the lists' first values)."""
        grid: list[dict[str, Any]] = [{}]
        for name in self.NAMES:
            values = getattr(self, name)
            if values:
                grid = [{**g, name: v} for g in grid for v in values]
        return grid


class TextRun(Frozen):
    """One trained text model: a dataset, a recipe and what differs for this dataset."""

    dataset: str
    model: str
    loss: TextLoss = "ce"
    select_on: Literal["macro_f1", "accuracy", "qwk", "loss"] = "macro_f1"
    window_stride: int | None = Field(None, ge=1)
    """Read texts longer than ``max_length`` whole, as windows starting every ``window_stride``
    tokens (their logits pooled); None: cut each text to its first ``max_length`` tokens."""
    window_pool: Literal["mean", "sum"] = "mean"
    """How a text's windows' logits pool: ``mean``, or ``sum`` (grows with the text's length)."""
    choose: TextChoice | None = None
    """Settings chosen on validation (first seed); see :class:`TextChoice`."""
    min_words: int = Field(0, ge=0)
    """Train only on texts of at least this many words (SST-2's train split holds every
    sub-phrase of its parse trees; its test split holds whole sentences)."""
    max_train: int | None = Field(None, ge=10)
    """Stratified subsample of the train split after ``min_words`` (None = all of it)."""
    max_valid: int | None = Field(None, ge=10)
    """Stratified subsample of the validation split used for early stopping (None = all)."""
    max_length: int | None = Field(None, ge=8, le=4096)
    epochs: int | None = Field(None, ge=1)


def _check_windows(name: str, run: TextRun) -> None:
    """Window settings that would do nothing, for every candidate of ``run``: errors that name
    the run's key."""
    where = f"train_text.runs.{name}"
    if run.window_stride is None and "window_pool" in run.model_fields_set:
        raise ValueError(f"{where}.window_pool: no effect without window_stride")
    for cand in run.choose.candidates() if run.choose else [{}]:
        stride = cand.get("window_stride", run.window_stride)
        if stride is None and "window_pool" in cand:
            raise ValueError(f"{where}.choose.window_pool: no effect without window_stride")


class TrainTextParams(Frozen):
    """``train_text`` stage: recipes and the runs (dataset x recipe) that use them."""

    models: dict[Name, TextModelParams]
    runs: dict[Name, TextRun]
    seeds: tuple[Seed, ...] = Field((0, 1, 2), min_length=1)
    """Every run trains one model per seed (initialisation, batch order and the ``max_train``
    subsample); the first seed's model is the one explained and registered."""
    device: str = "auto"
    threads: int | None = Field(1, ge=1)
    """torch threads per model (None: torch's default). Fixed, so a model is bit-identical
    whether its stage ran alone on many cores or beside others (``make run`` runs stages side by
    side for parallelism)."""

    @model_validator(mode="after")
    def _known_models(self) -> TrainTextParams:
        for name, run in self.runs.items():
            entry(self.models, run.model, f"train_text.runs.{name}.model")
            losses = {run.loss, *(run.choose.loss if run.choose else ())}
            if "ordinal" in losses and self.models[run.model].backbone != "small":
                raise ValueError(f"train_text.runs.{name}: loss 'ordinal' needs a small backbone")
            if run.choose and run.select_on == "loss" and len(run.choose.candidates()) > 1:
                raise ValueError(
                    f"train_text.runs.{name}.choose: candidates are compared on select_on; "
                    "validation loss differs between losses, use macro_f1, accuracy or qwk"
                )
            _check_windows(name, run)
            if run.choose and run.choose.floor is not None:
                if len(run.choose.candidates()) < 2:
                    raise ValueError(
                        f"train_text.runs.{name}.choose.floor: no effect with fewer than two "
                        "candidates"
                    )
                if run.select_on == "accuracy":
                    raise ValueError(
                        f"train_text.runs.{name}.choose.floor: no effect with select_on "
                        "accuracy (the most accurate candidate wins either way)"
                    )
        return self

    def run(self, name: str) -> TextRun:
        """One entry of ``train_text.runs``; the error lists the known names."""
        return entry(self.runs, name, "train_text.runs")

    def estimator_params(self, name: str, seed: int | None = None) -> dict[str, Any]:
        """Keyword arguments of ``TextClassifier`` for run ``name`` (``seed``: the first seed)."""
        run = self.run(name)
        out = self.models[run.model].model_dump()
        seed = self.seeds[0] if seed is None else seed
        out.update(
            loss=run.loss,
            select_on=run.select_on,
            seed=seed,
            device=self.device,
            threads=self.threads,
        )
        if run.max_length is not None:
            out["max_length"] = run.max_length
        if run.epochs is not None:
            out["epochs"] = run.epochs
        if run.window_stride is not None:
            out["window_stride"] = run.window_stride
            out["window_pool"] = run.window_pool
        return out


class ExplainTextSettings(Frozen):
    """``explain_text`` settings shared by every text model."""

    threads: int | None = Field(1, ge=1)
    """torch threads while explaining (see ``TrainTextParams.threads``)."""
    n_texts: int = Field(100, ge=1)
    """Test texts explained per model (a fixed, seeded sample; all of test if fewer)."""
    n_texts_note: str | None = None
    """Why a run explains fewer texts than the default (copied into its metrics JSON)."""
    methods: tuple[Literal["ig", "eg", "lime", "kernel_shap", "occlusion", "random"], ...] = (
        "ig",
        "eg",
        "lime",
        "occlusion",
        "random",
    )
    baseline: Literal["pad", "mask", "zeros"] = "pad"
    n_steps: int = Field(32, ge=2)
    eg_samples: int = Field(64, ge=1)
    lime_samples: int = Field(200, ge=10)
    max_length: int = Field(128, ge=8)
    n_interactions: int = Field(3, ge=0)
    """Texts (the shortest of the sample) that also get token x token Integrated Hessians."""
    ih_steps: int = Field(16, ge=2)
    ks: tuple[float, ...] = (0.1, 0.2, 0.5)
    replacements: tuple[Literal["pad", "mask", "random", "remove"], ...] = Field(
        ("pad", "mask", "random"), min_length=1
    )
    """What a deleted token becomes in the faithfulness metrics (``remove``: deleted, the rest
    shift left; only for models that ignore right padding, else skipped with the reason)."""
    seed: Seed = 0


class ExplainTextParams(Frozen):
    """``explain_text`` stage: which ``train_text`` runs to explain, and how."""

    settings: ExplainTextSettings = ExplainTextSettings()
    runs: dict[Name, dict[str, Any]] = Field(default_factory=dict)
    """Per-run overrides of ``settings`` (e.g. ``n_interactions: 0`` for long essays)."""

    @model_validator(mode="after")
    def _overrides(self) -> ExplainTextParams:
        for name in self.runs:
            try:
                self.for_run(name)
            except ValidationError as exc:
                raise ValueError(f"explain_text.runs.{name}: {exc}") from None
        return self

    def for_run(self, name: str) -> ExplainTextSettings:
        """Settings for one run, with its overrides applied (validated)."""
        return ExplainTextSettings(**{**self.settings.model_dump(), **self.runs.get(name, {})})


TABULAR_METHODS: tuple[str, ...] = (
    "inn",
    "tabresnet",
    "logistic_regression",
    "decision_tree",
    "random_forest",
    "catboost",
    "ebm",
)
"""The one list of tabular methods (params validation, the model factory, the comparison)."""


class ReconcileTextParams(Frozen):
    """``reconcile_text`` stage: each text model's post-hoc word scores (``explain_text``)
    aggregated to n-grams and compared with the exact contributions of the Emb-GAM trained on
    the same dataset."""

    max_order: int = Field(2, ge=1, le=4)
    """Longest n-gram (in words) compared."""
    min_count: int = Field(3, ge=1)
    """Occurrences an n-gram needs, on both sides, to be compared."""
    top_k: int = Field(20, ge=1)
    n_disagreements: int = Field(10, ge=0)
    """N-grams listed where the two rankings disagree most."""
    n_boot: int = Field(200, ge=0)
    """Bootstrap resamples of the texts for the Spearman interval (0: none)."""
    seed: Seed = 0


class TabularNetParams(Frozen):
    """INN / TabResNet hyperparameters (``train_tabular.hyperparameters.{inn,tabresnet}``)."""

    nr_blocks: int = Field(2, ge=1)
    hidden_size: int = Field(128, ge=2)
    dropout: float = Field(0.1, ge=0, lt=1)
    weight_norm: float = Field(0.1, ge=0)
    """INN only: L1 penalty on |W(x)|."""
    smoothness: float = Field(0.0, ge=0)
    """INN only: penalty on how fast W(x) changes with x (``||dW/dx||_F^2`` over W's size)."""
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    batch_size: int = Field(256, ge=2)
    epochs: int = Field(40, ge=2)
    warmup_epochs: int = Field(5, ge=0)
    nr_restarts: int = Field(3, ge=1)
    augmentation: Literal["mixup", "cutmix", "cutout", "fgsm", "gaussian_noise"] | None = None
    augmentation_probability: float = Field(0.0, ge=0, le=1)
    oversample: bool = False
    numeric_bins: int = Field(0, ge=0, le=256)
    """0: the network reads the encoded features as they are; N: also a piecewise-linear encoding
    of each numeric column in up to N quantile bins (INN: the hypernetwork's input only)."""

    @model_validator(mode="after")
    def _schedule(self) -> TabularNetParams:
        if self.epochs < self.warmup_epochs + self.nr_restarts:
            raise ValueError("epochs must be at least warmup_epochs + nr_restarts")
        return self


class TabularEncoding(Frozen):
    """How tabular features are encoded (fitted on train only)."""

    nominal: Literal["onehot", "target"] = "onehot"
    max_categories: int | None = Field(32, ge=2)
    """One-hot: categories beyond the most frequent ``max_categories - 1`` share one column."""


class TabularTuning(Frozen):
    """The equal-budget search of every tabular method (:mod:`glassworks.experiments.tuning`)."""

    n_trials: int = Field(0, ge=0)
    """Optuna trials per method and dataset on validation AUROC, the same for every method (the
    first seed fits them; every seed then trains at the best); 0 = no search (the CPU profile
    trains the configured hyperparameters as they are)."""


class TabularRun(Frozen):
    """One ``train_tabular`` run: a method's constructor arguments and the shared settings."""

    seeds: tuple[int, ...]
    encoding: TabularEncoding
    max_train: int | None
    method: str
    hyperparameters: dict[str, Any]
    threads: int | None = 1
    """torch threads while INN / TabResNet train (the others ignore it)."""
    tuning: TabularTuning = TabularTuning()


class TrainTabularParams(Frozen):
    """``train_tabular`` stage: every method on every OpenML dataset, several seeds."""

    seeds: tuple[int, ...] = Field((0, 1, 2), min_length=1)
    device: str = "auto"
    encoding: TabularEncoding = TabularEncoding()
    threads: int | None = Field(1, ge=1)
    """torch threads per INN / TabResNet model (see ``TrainTextParams.threads``): fixed, so a
    model is bit-identical however many stages run side by side."""
    max_train: int | None = Field(None, ge=10)
    """Subsample the train split to this many rows (CPU profile); ``null`` = all rows."""
    datasets: tuple[str, ...] = ()
    """The matrix's datasets (read by dvc.yaml and ``compare_tabular``, not by one run)."""
    methods: tuple[Literal[TABULAR_METHODS], ...] = ()  # type: ignore[valid-type]
    hyperparameters: dict[str, dict[str, Any]] = {}
    tuning: TabularTuning = TabularTuning()

    @model_validator(mode="after")
    def _known(self) -> TrainTabularParams:
        for name, values in self.hyperparameters.items():
            if name not in TABULAR_METHODS:
                raise ValueError(
                    f"hyperparameters.{name}: unknown method (known: {', '.join(TABULAR_METHODS)})"
                )
            if name in ("inn", "tabresnet"):
                try:
                    TabularNetParams(**values)
                except ValidationError as exc:
                    raise ValueError(f"hyperparameters.{name}: {exc}") from None
        return self

    def run(self, method: str) -> TabularRun:
        """What one ``train_tabular`` run of ``method`` reads."""
        return TabularRun(
            seeds=self.seeds,
            encoding=self.encoding,
            max_train=self.max_train,
            method=method,
            hyperparameters=self.method_params(method),
            threads=self.threads,
            tuning=self.tuning,
        )

    def method_params(self, method: str) -> dict[str, Any]:
        """Constructor arguments for ``method`` (nets get their typed defaults and ``device``)."""
        values = dict(self.hyperparameters.get(method, {}))
        if method in ("inn", "tabresnet"):
            values = TabularNetParams(**values).model_dump()
            if method == "tabresnet":
                values.pop("weight_norm")
                values.pop("smoothness")
            values["device"] = self.device
        return values


class CompareTabularParams(Frozen):
    """``compare_tabular`` stage."""

    reference: Literal[TABULAR_METHODS] = "decision_tree"  # type: ignore[valid-type]
    """Every AUROC is divided by this method's AUROC on the same dataset and seed."""


class AuditTabularParams(Frozen):
    """``audit_tabular`` stage: post-hoc explainers' agreement with INN's decomposition."""

    seed: Seed = 0
    """Which training seed's INN and TabResNet to audit."""
    n_examples: int = Field(100, ge=2)
    n_steps: int = Field(64, ge=2)
    eg_samples: int = Field(128, ge=1)
    background: int = Field(200, ge=1)
    lime_samples: int = Field(500, ge=10)
    kernel_shap_samples: int = Field(500, ge=10)
    top_k: int = Field(5, ge=1)
    datasets: tuple[str, ...] = Field(min_length=1)


class PrepareSstVariantsParams(Frozen):
    """``prepare_sst_variants`` stage: SST-2 with a spurious feature built into train (CDEP)."""

    dataset: str = "sst2"
    """The prepared dataset the variants derive from."""
    variants: tuple[Literal["decoy", "gender"], ...] = Field(("decoy", "gender"), min_length=1)
    min_words: int = Field(5, ge=0)
    """Drop shorter train/validation phrases (SST-2 train holds every sub-phrase)."""
    seed: Seed = 0


CDEP_PENALTIES = ("none", "clean", "cdep", "cdep_ref", "cdep_int", "clp", "rrr", "eg")
PENALIZED = ("cdep", "cdep_ref", "cdep_int", "clp", "rrr", "eg")
"""The arms with an explanation penalty (a lambda grid)."""
CD_BASED = ("cdep", "cdep_ref", "cdep_int")
"""The penalties built on contextual decomposition (not defined for attention)."""


class CdepModelParams(TextModelParams):
    """A model recipe of ``train_cdep`` (``TextClassifier`` arguments; ``backbone`` small|lstm)."""

    tokenizer: Literal["bpe", "word"] = "word"
    embeddings: Literal["random", "glove"] = "random"
    select_on: Literal["macro_f1", "accuracy", "qwk", "loss", "last"] = "last"


class TrainCdepParams(Frozen):
    """``train_cdep`` stage: arms ``<model>-<penalty>`` per variant, each over its lambda grid.

    ``none`` = the vanilla model on the biased train split (lambda 0), ``clean`` = the same model
    on the unbiased ``reference`` split (the accuracy to recover).

    The lambda grid trains ``seeds[0]`` only; the lambda chosen on validation accuracy (and the
    ``none``/``clean`` arms) trains every seed."""

    seeds: tuple[Seed, ...] = Field((0, 1, 2), min_length=1)
    device: str = "auto"
    threads: int | None = Field(1, ge=1)
    """torch threads per model (see ``TrainTextParams.threads``)."""
    variants: tuple[str, ...] = ()
    """The DVC matrix's variants (a stage reads only its own: adding one reruns nothing else)."""
    arms: tuple[str, ...] = ()
    models: dict[Name, CdepModelParams]
    lambdas: dict[Literal["cdep", "cdep_ref", "cdep_int", "clp", "rrr", "eg"], tuple[float, ...]]
    max_train: int | None = Field(None, ge=10)
    n_probe: int = Field(200, ge=1)
    """Probe texts (spurious words present) whose attribution mass is measured."""
    ig_steps: int = Field(32, ge=2)

    @model_validator(mode="after")
    def _known(self) -> TrainCdepParams:
        for arm in self.arms:
            model, penalty = self.arm(arm)
            if penalty in PENALIZED:
                grid = self.lambdas.get(penalty)  # type: ignore[call-overload]
                if not grid:
                    raise ValueError(f"train_cdep.lambdas.{penalty}: no lambdas for arm {arm!r}")
            if penalty in CD_BASED and self.models[model].backbone != "lstm":
                raise ValueError(
                    f"train_cdep.arms: {arm!r}: contextual decomposition is not defined for "
                    "attention (backbone 'small'); use clp, rrr or eg for the transformer"
                )
        for penalty, grid in self.lambdas.items():
            bad = [lam for lam in grid if lam < 0]
            if bad:
                raise ValueError(f"train_cdep.lambdas.{penalty}: lambda must be >= 0, got {bad}")
        return self

    def arm(self, name: str) -> tuple[str, str]:
        """``(model, penalty)`` of an arm named ``<model>-<penalty>``."""
        model, _, penalty = name.rpartition("-")
        entry(self.models, model, f"train_cdep.arms.{name} (model)")
        if penalty not in CDEP_PENALTIES:
            raise ConfigError(
                f"train_cdep.arms.{name}: unknown penalty {penalty!r} "
                f"(known: {', '.join(CDEP_PENALTIES)})"
            )
        return model, penalty

    def grid(self, arm: str) -> tuple[float, ...]:
        """The lambdas arm ``arm`` trains (``(0.0,)`` for none/clean)."""
        _, penalty = self.arm(arm)
        if penalty in ("none", "clean"):
            return (0.0,)
        return self.lambdas[penalty]  # type: ignore[index]

    def estimator_params(
        self, arm: str, lam: float, spurious_words: list[str], seed: int | None = None
    ) -> dict[str, Any]:
        """Keyword arguments of ``TextClassifier`` for ``arm`` at ``lam`` (``seed``: the first)."""
        model, penalty = self.arm(arm)
        out = self.models[model].model_dump()
        out.update(
            seed=self.seeds[0] if seed is None else seed,
            device=self.device,
            threads=self.threads,
            penalty="none" if penalty == "clean" else penalty,
            penalty_weight=float(lam),
            spurious_words=list(spurious_words),
        )
        return out


class DriftGateParams(Frozen):
    """``report.gate``: a new champion whose explanations drifted from the current one's is
    registered but not promoted (see ``glassworks.explain.drift``)."""

    enabled: bool = True
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    """Largest drift score (1 − Jaccard of the top-k features) that still promotes."""
    top_k: int = Field(5, ge=1)
    rows: int = Field(100, ge=2)
    """Test rows both models explain."""
    force: bool = False
    """Promote even above the threshold (the drift is still measured and recorded)."""


class ReportParams(Frozen):
    """``report`` stage: the overview page and the champion models in the MLflow registry."""

    alias: str = Field("champion", pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    register_champions: bool = Field(True, alias="register")
    """``register`` in params.yaml (a field of that name would shadow ``BaseModel.register``)."""
    text_metric: Literal["accuracy", "macro_f1"] = "accuracy"
    gate: DriftGateParams = DriftGateParams()


class CdepMatrix(Frozen):
    """The ``train_cdep`` DVC matrix (what ``compare_cdep`` collects)."""

    variants: tuple[str, ...] = Field(min_length=1)
    arms: tuple[str, ...] = Field(min_length=1)


class CompareCdepParams(Frozen):
    """``compare_cdep`` stage: accuracy-vs-lambda curves per penalty (CDEP's headline figure)."""

    metric: Literal["test_accuracy", "test_macro_f1"] = "test_accuracy"


class TrackingParams(Frozen):
    """``tracking``: how stages use the MLflow store. No stage declares it to DVC: it changes no
    output, only whether a stage may finish without its MLflow run."""

    best_effort: bool = False
    """False: an unusable store fails the stage before it works. True: the stage warns, goes on
    without (or with the rest of) its MLflow run and still writes its DVC outputs."""


class PipelineParams(Frozen):
    """``pipeline``: how ``make run`` and the scheduled flows run the stages. No stage declares it
    to DVC: it changes no output, only when a running stage is stopped."""

    timeout_s: dict[str, PositiveFloat | None] = {}
    """Seconds a stage may run before it is stopped and fails, by stage address
    (``train_text@sst2-small``), stage name (``train_text``) or ``default``, first match wins;
    null or absent: no limit."""
    stop_grace_s: PositiveFloat = 10.0
    """Seconds a stopped stage (timeout, cancelled flow run, SIGTERM, Ctrl-C) gets to unwind
    before its process tree is killed."""

    def timeout_for(self, address: str) -> float | None:
        """The timeout of the stage at ``address`` (None: no limit)."""
        for key in (address, address.split("@", 1)[0], "default"):
            if key in self.timeout_s:
                return self.timeout_s[key]
        return None


class Params(Frozen):
    """The whole ``params.yaml``."""

    prepare: PrepareParams
    embed: EmbedParams
    train_embgam: TrainEmbGAMParams
    train_mlp: TrainMLPParams
    explain: ExplainParams
    train_text: TrainTextParams
    explain_text: ExplainTextParams
    reconcile_text: ReconcileTextParams = ReconcileTextParams()
    train_tabular: TrainTabularParams
    compare_tabular: CompareTabularParams
    audit_tabular: AuditTabularParams
    prepare_sst_variants: PrepareSstVariantsParams
    train_cdep: TrainCdepParams
    compare_cdep: CompareCdepParams
    report: ReportParams
    tracking: TrackingParams = TrackingParams()
    pipeline: PipelineParams = PipelineParams()


M = TypeVar("M", bound=BaseModel)


def _format_validation(error: ValidationError, prefix: str, path: Path) -> ConfigError:
    lines = []
    for err in error.errors():
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        if err["type"] == "extra_forbidden":
            lines.append(f"{loc}: unknown key")
        else:
            lines.append(f"{loc}: {err['msg']}")
    return ConfigError(f"{path}: invalid parameters\n  " + "\n  ".join(lines))


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it (~10x faster), else the pure-Python one."""


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; errors name the file."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506
    except FileNotFoundError:
        raise ConfigError(f"{path}: parameter file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def subsection(data: dict[str, Any], dotted: str, path: str | Path) -> dict[str, Any]:
    """``data[a][b]...`` for ``dotted = "a.b"`` (empty when absent); a non-mapping on the way is a
    :class:`ConfigError` naming the key."""
    node: Any = data
    for depth, key in enumerate(dotted.split(".")):
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return {}
        if not isinstance(node, dict):
            where = ".".join(dotted.split(".")[: depth + 1])
            raise ConfigError(f"{path}: {where} must be a mapping, got {type(node).__name__}")
    return node


def parse_section(data: dict[str, Any], section: str, model: type[M], path: str | Path) -> M:
    """Validate ``data[section]`` as ``model``; the error names every bad key by its full path."""
    if section not in data:
        raise ConfigError(f"{path}: missing section {section!r}")
    try:
        return model.model_validate(data[section])
    except ValidationError as exc:
        raise _format_validation(exc, section, Path(path)) from None


def load_section(path: str | Path, section: str, model: type[M]) -> M:
    """Load one typed section of a params file (what a stage reads)."""
    return parse_section(read_yaml(path), section, model, path)


def load_tracking(path: str | Path) -> TrackingParams:
    """The ``tracking`` section of a params file (defaults when it has none)."""
    data = read_yaml(path)
    return parse_section({"tracking": {}, **data}, "tracking", TrackingParams, path)


def load_pipeline(path: str | Path) -> PipelineParams:
    """The ``pipeline`` section of a params file (defaults when it has none or there is no
    file: a project of its own may run the flows without one)."""
    if not Path(path).is_file():
        return PipelineParams()
    data = read_yaml(path)
    return parse_section({"pipeline": {}, **data}, "pipeline", PipelineParams, path)


def load_params(path: str | Path) -> Params:
    """Load and validate the whole params file; unknown sections are an error."""
    data = read_yaml(path)
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        raise _format_validation(exc, "", Path(path)) from None
