"""Seeded stratified splits (optionally grouped, so duplicates never straddle splits), nested-span
grouping (SST-2's phrases of one parse tree), train-only undersampling, and the subsets a stage
trains on (word-count filters, stratified caps, the texts an embedding index covers)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import polars as pl


def stratified_split(
    frame: pl.DataFrame,
    by: str,
    fraction: float,
    seed: int,
    group: str | None = None,
    within: str | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hold out ``round(n_c * fraction)`` units of every stratum ``c`` of column ``by``.

    A unit is a row, or with ``group`` all rows sharing that column's value (e.g. identical
    texts), which then always land in the same split; a group's stratum is its first row's.
    With ``within`` (a list column of ``group`` values: every unit that contains the row, e.g. all
    sentences a phrase is a sub-span of), a row is held out only if *all* its containing units are
    held out, so a held-out row is never part of a kept unit. Returns ``(kept, held_out)``, each in
    the frame's original row order. The same inputs and seed always give the same split. A stratum
    of one unit stays in ``kept``.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    if group is None:
        unit = np.arange(frame.height)
    else:
        unit = frame.get_column(group).rank("dense").to_numpy().astype(np.int64) - 1
    n_units = int(unit.max()) + 1 if frame.height else 0
    first_row = np.full(n_units, frame.height, dtype=np.int64)
    np.minimum.at(first_row, unit, np.arange(frame.height))
    unit_key = frame.get_column(by).to_numpy()[first_row]
    held_unit = np.zeros(n_units, dtype=bool)
    for value in np.unique(unit_key):
        idx = np.flatnonzero(unit_key == value)
        rng.shuffle(idx)
        held_unit[idx[: int(round(len(idx) * fraction))]] = True
    if within is None:
        mask = pl.Series(held_unit[unit])
    else:
        if group is None:
            raise ValueError("stratified_split: 'within' needs 'group'")
        keys = frame.get_column(group).to_numpy()
        unit_of = dict(zip(keys[first_row].tolist(), range(n_units), strict=True))
        held_rows = np.empty(frame.height, dtype=bool)
        for i, containers in enumerate(frame.get_column(within).to_list()):
            try:
                held_rows[i] = (
                    all(held_unit[unit_of[c]] for c in containers)
                    if containers
                    else (held_unit[unit[i]])
                )
            except KeyError as e:
                raise ValueError(
                    f"stratified_split: row {i}: {within} names unknown unit {e}"
                ) from None
        mask = pl.Series(held_rows)
    return frame.filter(~mask), frame.filter(mask)


def _spans(words: Sequence[str]) -> Iterable[str]:
    n = len(words)
    for i in range(n):
        for j in range(i + 1, n + 1):
            yield " ".join(words[i:j])


def span_containers(texts: Sequence[str]) -> list[list[str]]:
    """For each text, every *maximal* text whose words contain it as a contiguous span.

    A maximal text is one that is no proper word span of another text (in SST-2: the whole
    sentence of a parse tree). A maximal text's list is ``[itself]``; a phrase shared by several
    sentences lists them all (sorted). Identical texts get identical lists. Words are split on
    single spaces, as GLUE ships SST-2 (tokenised, space-separated).
    """
    unique = sorted(set(texts), key=lambda t: (-len(t.split(" ")), t))
    known = set(unique)
    containers: dict[str, list[str]] = {t: [] for t in unique}
    for text in unique:
        if containers[text]:
            continue  # a span of a longer (already seen) maximal text
        containers[text].append(text)
        for span in set(_spans(text.split(" "))):
            if span != text and span in known:
                containers[span].append(text)
    return [sorted(containers[t]) for t in texts]


def span_overlap(held: Sequence[str], reference: Sequence[str]) -> float:
    """Share of ``held`` texts that are a contiguous word span of some ``reference`` text.

    Computed independently of :func:`span_containers` (every span of every reference text is
    checked against the held set); 0.0 for an empty ``held``.
    """
    if not held:
        return 0.0
    targets = set(held)
    found: set[str] = set()
    for text in set(reference):
        words = text.split(" ")
        found.update(s for s in _spans(words) if s in targets)
        if len(found) == len(targets):
            break
    return sum(t in found for t in held) / len(held)


def undersample(frame: pl.DataFrame, by: str, seed: int) -> pl.DataFrame:
    """Randomly drop rows of the larger classes until every class has the minority's count.

    As in nlp-lime-ig; apply to the *train* split only (valid/test keep the true distribution).
    """
    rng = np.random.default_rng(seed)
    keys = frame.get_column(by).to_numpy()
    values, counts = np.unique(keys, return_counts=True)
    n_min = int(counts.min())
    keep = np.zeros(frame.height, dtype=bool)
    for value in values:
        idx = np.flatnonzero(keys == value)
        keep[rng.choice(idx, size=n_min, replace=False)] = True
    return frame.filter(pl.Series(keep))


def subsample(frame: pl.DataFrame, n: int | None, seed: int) -> pl.DataFrame:
    """At most ``n`` rows drawn without replacement (seeded), in the frame's original order."""
    if n is None or n >= frame.height:
        return frame
    rng = np.random.default_rng(seed)
    keep = np.zeros(frame.height, dtype=bool)
    keep[rng.choice(frame.height, size=n, replace=False)] = True
    return frame.filter(pl.Series(keep))


def at_least_words(frame: pl.DataFrame, min_words: int, column: str = "text") -> pl.DataFrame:
    """The rows whose ``column`` has at least ``min_words`` words (split on single spaces, as
    SST-2 ships its tokens); every row when ``min_words`` is 0."""
    if not min_words:
        return frame
    return frame.filter(pl.col(column).str.split(" ").list.len() >= min_words)


def stratified_cap(
    frame: pl.DataFrame, n: int | None, seed: int, by: str = "label"
) -> pl.DataFrame:
    """At most about ``n`` rows, every class of ``by`` keeping its share (``round(n_c * n / N)``
    rows of class ``c``: :func:`stratified_split`'s held-out part), seeded, in the frame's order;
    the whole frame when ``n`` is None or not below its height."""
    if n is None or n >= frame.height:
        return frame
    return stratified_split(frame, by, n / frame.height, seed)[1]


def texts_used(
    splits: Mapping[str, pl.DataFrame], train_subsample: int | None, seed: int
) -> pl.DataFrame:
    """``id, split, text`` of every split's texts, the train split subsampled to
    ``train_subsample`` rows (seeded): the texts a model trained on ``splits`` will see."""
    parts = []
    for name, frame in splits.items():
        if name == "train":
            frame = subsample(frame, train_subsample, seed)
        parts.append(frame.select("id", pl.lit(name).alias("split"), "text"))
    return pl.concat(parts)


def rows_used(splits: Mapping[str, pl.DataFrame], used: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Each split's rows whose ``id`` ``used`` lists for that split (``used``: ``id, split``, as
    :func:`texts_used` gives), in the split's order."""
    out = {}
    for name, frame in splits.items():
        ids = used.filter(pl.col("split") == name).get_column("id")
        out[name] = frame.filter(pl.col("id").is_in(ids.implode()))
    return out


DUP_GROUP = "_duplicate_group"


def with_duplicate_groups(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Add a group column equal for rows with identical feature values (label ignored), so exact
    duplicates never straddle splits; also return how many rows repeat an earlier row's features."""
    features = [c for c in frame.columns if c != "label"]
    key = pl.concat_str(
        [pl.col(c).cast(pl.String).fill_null("\x00") for c in features], separator="\x1f"
    )
    frame = (
        frame.with_columns(key.alias(DUP_GROUP))
        if features
        else frame.with_row_index(DUP_GROUP).with_columns(pl.col(DUP_GROUP).cast(pl.String))
    )
    n_dup = frame.height - frame.get_column(DUP_GROUP).n_unique()
    return frame, int(n_dup)


def drop_duplicate_groups(
    splits: dict[str, pl.DataFrame],
) -> tuple[dict[str, pl.DataFrame], dict[str, object]]:
    """Remove the grouping column after splitting; count duplicate groups in more than one split
    (must be 0) for the ``leakage`` metrics."""
    seen: dict[str, set[str]] = {
        k: set(v.get_column(DUP_GROUP).to_list()) for k, v in splits.items()
    }
    names = list(seen)
    straddling = set()
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            straddling |= seen[a] & seen[b]
    leakage = {"duplicate_groups_across_splits": len(straddling)}
    return {k: v.drop(DUP_GROUP) for k, v in splits.items()}, {"leakage": leakage}


def drop_straddling(
    splits: dict[str, pl.DataFrame], group: str
) -> tuple[dict[str, pl.DataFrame], dict[str, int]]:
    """For splits that were given (not drawn): drop the rows of a later split (valid, then test)
    whose ``group`` value already occurs in an earlier one; return the splits and, per split,
    how many rows went (``<split>_repeats_earlier_split``)."""
    seen: set[str] = set()
    out: dict[str, pl.DataFrame] = {}
    removed: dict[str, int] = {}
    for name, frame in splits.items():
        keys = frame.get_column(group)
        clash = keys.is_in(pl.Series(sorted(seen), dtype=keys.dtype).implode())
        if seen and clash.any():
            removed[f"{name}_repeats_earlier_split"] = int(clash.sum())
            frame = frame.filter(~clash)
        seen.update(frame.get_column(group).to_list())
        out[name] = frame
    return out, removed
