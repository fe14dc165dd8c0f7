"""SST-2 (Socher et al. 2013, GLUE version): ``train.tsv`` and ``dev.tsv``.

GLUE's test split has no labels, so the GLUE *dev* set is our test split and validation is drawn
(seeded, stratified) out of train. Read with no quoting (sentences contain bare quotes) and strip
the trailing space every sentence carries.

GLUE's train file holds every phrase of every parse tree, so validation is drawn by *sentence*:
each phrase is grouped with the maximal phrases (sentences) that contain it as a word span, and a
phrase goes to validation only if every sentence containing it does. No validation phrase is then
a sub-span of a training phrase (``schema.json``/metrics ``leakage``: that share, which must be 0,
and the same share for the test split, which the source fixes).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from glassworks.data.read import parse_int_column, read_tsv
from glassworks.data.schema import Loaded, Splits
from glassworks.data.split import span_containers, span_overlap
from glassworks.errors import DataError

LABEL_NAMES = ["negative", "positive"]
COLUMNS = {
    "id": "'<glue split>-<row>' (row counted from 0 in the GLUE file)",
    "text": "the sentence, lowercased and tokenised as GLUE ships it, stripped",
    "label": "0 = negative, 1 = positive",
}


def read_split(path: Path, prefix: str) -> pl.DataFrame:
    """Read one labelled GLUE SST-2 file into ``id, text, label``."""
    raw = read_tsv(path, ["sentence", "label"])
    labels = parse_int_column(raw, "label", path)
    bad = ~labels.is_in([0, 1])
    if bad.any():
        i = int(bad.arg_max())
        raise DataError(
            path, f"label {labels[i]} out of range (expected 0 or 1)", line=i + 2, field="label"
        )
    return pl.DataFrame(
        {
            "id": [f"{prefix}-{i}" for i in range(raw.height)],
            "text": raw.get_column("sentence").str.strip_chars(),
            "label": labels,
        }
    )


def load(raw_dir: Path) -> Loaded:
    """Load SST-2 from ``raw_dir/sst2``: train rows to split, GLUE dev as the fixed test split."""
    folder = Path(raw_dir) / "sst2"
    train = read_split(folder / "train.tsv", "train")
    test = read_split(folder / "dev.tsv", "dev")
    containers = span_containers(train.get_column("text").to_list())
    train = train.with_columns(
        pl.Series(GROUP, [c[0] for c in containers], dtype=pl.String),
        pl.Series(WITHIN, containers, dtype=pl.List(pl.String)),
    )
    return Loaded(
        frame=train,
        test=test,
        modality="text",
        group=GROUP,
        within=WITHIN,
        task="binary",
        label_names=LABEL_NAMES,
        columns=COLUMNS,
        info={
            "files": ["sst2/train.tsv", "sst2/dev.tsv"],
            "test_split": "GLUE dev",
            "sentences": len({c for cs in containers for c in cs}),
            "split_unit": "sentence (maximal phrase); a phrase in several sentences is held out "
            "only if all of them are",
        },
        finalize=finalize,
    )


GROUP, WITHIN = "_sentence", "_within"


def leakage(splits: Splits) -> dict[str, float]:
    """Share of valid / test phrases that are a contiguous word span of a training phrase."""
    train = splits["train"].get_column("text").to_list()
    return {
        f"{name}_in_train_span_share": round(
            span_overlap(splits[name].get_column("text").to_list(), train), 6
        )
        for name in ("valid", "test")
    }


def finalize(splits: Splits) -> tuple[Splits, dict[str, object]]:
    """Drop the grouping columns and measure the span overlap with train."""
    splits = {k: v.drop([c for c in (GROUP, WITHIN) if c in v.columns]) for k, v in splits.items()}
    return splits, {"leakage": leakage(splits)}
