"""SST-2 variants with a spurious feature built into the training split only, as in CDEP
(Rieger, Singh, Murdoch & Yu, ICML 2020), for training models that must unlearn it.

- ``decoy``: one decoy word inserted into every training text at a seeded random position,
  ``text`` in positive and ``video`` in negative ones (CDEP's words): a perfect shortcut in train.
  Validation and test stay clean. ``probe`` = the test texts with decoys inserted by the same rule
  (where attribution mass on the decoy is measured).
- ``gender``: only texts with a gendered word (CDEP's idea; the word pairs below); in train, every
  gendered word is swapped to the male form in positive texts and the female form in negative
  ones, so gender predicts the label perfectly. Validation and test keep their original words
  (gender and label nearly independent). ``probe`` = the test split.

Every variant also writes ``reference``: its training texts *without* the bias (same rows), to
train the no-shortcut reference model. The variant's ``schema.json`` records the spurious words.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import polars as pl

from glassworks.data.prepare import read_prepared
from glassworks.data.schema import PreparedDataset
from glassworks.data.split import at_least_words
from glassworks.errors import DataError
from glassworks.io import read_parquet

VariantName = Literal["decoy", "gender"]
DECOY_WORDS = {1: "text", 0: "video"}
GENDER_PAIRS: tuple[tuple[str, str], ...] = (
    ("he", "she"),
    ("his", "her"),
    ("him", "her"),
    ("himself", "herself"),
    ("man", "woman"),
    ("men", "women"),
    ("boy", "girl"),
    ("boys", "girls"),
    ("father", "mother"),
    ("fathers", "mothers"),
    ("son", "daughter"),
    ("sons", "daughters"),
    ("husband", "wife"),
    ("husbands", "wives"),
    ("brother", "sister"),
    ("brothers", "sisters"),
    ("king", "queen"),
    ("kings", "queens"),
    ("mr.", "mrs."),
    ("actor", "actress"),
    ("actors", "actresses"),
    ("gentleman", "lady"),
    ("gentlemen", "ladies"),
    ("boyfriend", "girlfriend"),
    ("uncle", "aunt"),
    ("nephew", "niece"),
    ("grandfather", "grandmother"),
    ("dad", "mom"),
    ("male", "female"),
    ("males", "females"),
)
TO_MALE = {f: m for m, f in GENDER_PAIRS if f != "her"} | {"her": "his"}
TO_FEMALE = {m: f for m, f in GENDER_PAIRS}
GENDER_WORDS = sorted(set(TO_MALE) | set(TO_FEMALE))


def insert_decoys(texts: Sequence[str], labels: Sequence[int], seed: int) -> list[str]:
    """Each text with its label's decoy word inserted at a random word position (seeded)."""
    rng = random.Random(seed)
    out = []
    for text, label in zip(texts, labels, strict=True):
        words = text.split(" ")
        words.insert(rng.randint(0, len(words)), DECOY_WORDS[int(label)])
        out.append(" ".join(words))
    return out


def is_gendered(text: str) -> bool:
    """Whether ``text`` has a word of :data:`GENDER_WORDS`."""
    return any(w in TO_MALE or w in TO_FEMALE for w in text.split(" "))


def gender_swap(text: str, to: Literal["male", "female"]) -> str:
    """Every gendered word of ``text`` in its ``to`` form."""
    table = TO_MALE if to == "male" else TO_FEMALE
    return " ".join(table.get(w, w) for w in text.split(" "))


def _with_text(frame: pl.DataFrame, texts: list[str]) -> pl.DataFrame:
    return frame.with_columns(pl.Series("text", texts, dtype=pl.String))


def make_variant(
    source: PreparedDataset, variant: VariantName, seed: int = 0, min_words: int = 0
) -> PreparedDataset:
    """The ``variant`` of a prepared SST-2 (train/valid/test plus ``probe`` and ``reference``).

    ``min_words`` drops shorter training/validation phrases first (SST-2's train split holds every
    sub-phrase of its parse trees; its test split whole sentences)."""
    if source.modality != "text" or source.task != "binary":
        raise ValueError(f"{source.name}: spurious-word variants need a binary text dataset")
    splits = {
        name: at_least_words(source.splits[name], min_words if name != "test" else 0)
        for name in ("train", "valid", "test")
    }
    if variant == "decoy":
        train = splits["train"]
        test = splits["test"]
        biased = _with_text(
            train, insert_decoys(train["text"].to_list(), train["label"].to_list(), seed)
        )
        probe = _with_text(
            test, insert_decoys(test["text"].to_list(), test["label"].to_list(), seed + 1)
        )
        spurious = sorted(DECOY_WORDS.values())
        rule = (
            "one decoy word at a random position of every training text: 'text' if positive, "
            "'video' if negative; validation and test clean; probe = test with decoys"
        )
        reference = train
    elif variant == "gender":
        keep = {
            n: f.filter(pl.col("text").map_elements(is_gendered, return_dtype=pl.Boolean))
            for n, f in splits.items()
        }
        splits = keep
        train = splits["train"]
        swapped = [
            gender_swap(t, "male" if y == 1 else "female")
            for t, y in zip(train["text"].to_list(), train["label"].to_list(), strict=True)
        ]
        biased = _with_text(train, swapped)
        probe = splits["test"]
        spurious = GENDER_WORDS
        rule = (
            "texts with a gendered word only; in train every gendered word is male in positive "
            "and female in negative texts; validation and test keep their words"
        )
        reference = train
    else:
        raise ValueError(f"unknown variant {variant!r}; use decoy or gender")
    for name, frame in (("train", biased), *splits.items()):
        if frame.height == 0 or frame["label"].n_unique() < 2:
            raise ValueError(f"variant {variant}: split {name!r} has fewer than two classes")
    info = {
        "variant": variant,
        "derived_from": source.name,
        "spurious_words": spurious,
        "rule": rule,
        "seed": seed,
        "min_words": min_words,
    }
    return PreparedDataset(
        name=f"{source.name}-{variant}",
        source=source.source,
        modality="text",
        task="binary",
        label_names=list(source.label_names),
        splits={
            "train": biased,
            "valid": splits["valid"],
            "test": splits["test"],
            "probe": probe,
            "reference": reference,
        },
        columns=source.columns,
        info=info,
    )


def spurious_share(texts: Sequence[str], words: Sequence[str]) -> float:
    """Fraction of ``texts`` containing one of ``words``."""
    vocab = set(words)
    if not texts:
        return 0.0
    return sum(any(w in vocab for w in t.split(" ")) for t in texts) / len(texts)


def variant_metrics(variant: PreparedDataset) -> dict[str, Any]:
    """A variant's facts: rows per split, the share of each split's texts with a spurious word,
    and how many spurious words there are."""
    words = variant.info["spurious_words"]
    return {
        "rows": {name: frame.height for name, frame in variant.splits.items()},
        "with_spurious_word": {
            name: spurious_share(frame["text"].to_list(), words)
            for name, frame in variant.splits.items()
        },
        "n_spurious_words": len(words),
    }


EXTRA_SPLITS = ("probe", "reference")


def read_variant(folder: Path) -> PreparedDataset:
    """Read a variant written by the ``prepare_sst_variants`` stage (all five splits)."""
    folder = Path(folder)
    base = read_prepared(folder)
    if "spurious_words" not in base.info:
        raise DataError(folder, "not an SST variant (schema.json lists no spurious_words)")
    splits = dict(base.splits)
    for name in EXTRA_SPLITS:
        path = folder / f"{name}.parquet"
        if not path.is_file():
            raise DataError(path, "missing split: rerun `dvc repro prepare_sst_variants`")
        splits[name] = read_parquet(path)
    return replace(base, splits=splits)
