"""SST-2 (Socher et al. 2013, GLUE version): ``train.tsv`` and ``dev.tsv``.

GLUE's test split has no labels, so the GLUE *dev* set is our test split and validation is drawn
(seeded, stratified) out of train. Read with no quoting (sentences contain bare quotes) and strip
the trailing space every sentence carries.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from glassworks.data.read import parse_int_column, read_tsv
from glassworks.data.schema import Loaded
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
    return Loaded(
        frame=train,
        test=test,
        modality="text",
        group="text",
        task="binary",
        label_names=LABEL_NAMES,
        columns=COLUMNS,
        info={"files": ["sst2/train.tsv", "sst2/dev.tsv"], "test_split": "GLUE dev"},
    )
