"""Stage ``embed``: the n-grams of one text dataset, embedded through the shared cache.

    python -m stages.embed --dataset sst2

Reads ``data/prepared/<dataset>``; writes ``data/embeddings/<dataset>/`` (n-gram index, embeddings,
``embed.json``; a DVC output, so ``dvc push`` versions them) and ``metrics/embed/<dataset>.json``.
The cache under ``embed.cache_dir`` is shared by all datasets and runs: only n-grams it lacks are
sent to the model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from glassworks.config import EmbedDataset, EmbedParams, EncoderParams, load_section
from glassworks.data import read_prepared
from glassworks.data.split import subsample
from glassworks.embed.cache import EmbeddingCache
from glassworks.embed.encoder import Encoder
from glassworks.embed.index import ngram_table, spec_dict, write_index
from glassworks.embed.ngrams import NgramSpec
from glassworks.io import write_json
from stages.common import (
    exit_with,
    parser,
    progress_bar,
    provenance,
    run_main,
    stage_address,
    stage_run,
)

STAGE = "embed"
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, dataset: str) -> tuple[EncoderParams, str, int, EmbedDataset]:
    """All this stage reads: ``embed.encoder``, ``embed.cache_dir``, ``embed.seed`` and
    ``embed.datasets.<dataset>``."""
    params = load_section(params_path, STAGE, EmbedParams)
    return params.encoder, params.cache_dir, params.seed, params.dataset(dataset)


def texts_used(folder: Path, train_subsample: int | None, seed: int) -> pl.DataFrame:
    """``id, split, text`` of the texts this dataset's model will see (train maybe subsampled)."""
    prepared = read_prepared(folder)
    parts = []
    for name, frame in prepared.splits.items():
        if name == "train":
            frame = subsample(frame, train_subsample, seed)
        parts.append(frame.select("id", pl.lit(name).alias("split"), "text"))
    return pl.concat(parts)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for ``--dataset``."""
    p = parser(STAGE, __doc__)
    p.add_argument("--prepared-dir", type=Path, default=Path("data/prepared"))
    p.add_argument("--out-dir", type=Path, default=Path("data/embeddings"))
    p.add_argument("--metrics-dir", type=Path, default=Path("metrics/embed"))
    p.add_argument(
        "--shard-size", type=int, default=4096, help="n-grams per cache shard (resume granularity)"
    )
    args = p.parse_args(argv)

    enc_params, cache_dir, seed, ds = load_config(args.params, args.dataset)
    spec = NgramSpec(
        order=ds.ngram_order,
        mode=ds.ngram_mode,
        stopwords=ds.stopwords,
        min_frequency=ds.min_frequency,
    )
    tags = provenance(args.root, stage_address(STAGE, args.dataset))
    run_params = {
        "encoder": enc_params.model_dump(),
        "ngrams": spec_dict(spec),
        "train_subsample": ds.train_subsample,
    }

    with stage_run(
        args,
        STAGE,
        args.dataset,
        params=run_params,
        tags=tags,
    ) as run:
        texts = texts_used(args.prepared_dir / args.dataset, ds.train_subsample, seed)
        table = ngram_table(texts.get_column("text").to_list(), spec)
        encoder = Encoder(**enc_params.model_dump())
        cache = EmbeddingCache(args.root / cache_dir, encoder.identity)
        keys = table.get_column("ngram").to_list()
        with progress_bar(len(keys), f"embed {args.dataset}") as advance:
            vectors, stats = cache.embed(
                keys, encoder, shard_size=args.shard_size, progress=advance
            )
        meta = {
            "dataset": args.dataset,
            "encoder": enc_params.model_dump(),
            "identity": encoder.identity,
            "ngrams": spec_dict(spec),
            "cache": {"namespace": cache.namespace, "dir": str(cache_dir)},
        }
        write_index(args.out_dir / args.dataset, table, vectors, texts.select("id", "split"), meta)
        total = int(table.get_column("count").sum())
        metrics = {  # DVC metrics: facts of the data only, the same on every machine
            "texts": texts.height,
            "ngrams_total": total,
            "ngrams_unique": stats.unique,
            "unique_ratio": round(stats.unique / max(total, 1), 4),
        }
        machine = {  # this run's machine state (cache warmth, speed): MLflow only
            "newly_embedded": stats.newly_embedded,
            "cache_hits": stats.cache_hits,
            "truncated_newly_embedded": encoder.n_truncated,
            "ngrams_per_second": round(stats.newly_embedded / stats.seconds_encoding, 1)
            if stats.seconds_encoding > 0
            else None,
        }
        write_json(args.metrics_dir / f"{args.dataset}.json", metrics)
        run.log_metrics({**metrics, **{k: v for k, v in machine.items() if v is not None}})
    log.info("%s: %s %s", args.dataset, metrics, machine)


if __name__ == "__main__":
    exit_with(run_main(main, None))
