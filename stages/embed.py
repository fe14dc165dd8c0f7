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

from glassworks.config import EmbedDataset, EmbedParams, EncoderParams, load_section
from glassworks.data import read_prepared
from glassworks.data.split import texts_used
from glassworks.embed.cache import EmbeddingCache
from glassworks.embed.encoder import Encoder
from glassworks.embed.index import (
    cache_metrics,
    index_metrics,
    ngram_table,
    spec_dict,
    write_index,
)
from glassworks.embed.ngrams import NgramSpec
from glassworks.io import write_json
from stages.common import exit_with, progress_bar, run_main, start

STAGE = "embed"
OPTIONS = {
    "--prepared-dir": "data/prepared",
    "--out-dir": "data/embeddings",
    "--metrics-dir": "metrics/embed",
    "--shard-size": {
        "type": int,
        "default": 4096,
        "help": "n-grams per cache shard (resume granularity)",
    },
}
log = logging.getLogger(f"glassworks.stages.{STAGE}")


def load_config(params_path: Path, dataset: str) -> tuple[EncoderParams, str, int, EmbedDataset]:
    """All this stage reads: ``embed.encoder``, ``embed.cache_dir``, ``embed.seed`` and
    ``embed.datasets.<dataset>``."""
    params = load_section(params_path, STAGE, EmbedParams)
    return params.encoder, params.cache_dir, params.seed, params.dataset(dataset)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the stage for ``--dataset``."""
    st = start(STAGE, __doc__, argv, load_config, OPTIONS)
    args, (enc_params, cache_dir, seed, ds) = st.args, st.config
    spec = NgramSpec(
        order=ds.ngram_order,
        mode=ds.ngram_mode,
        stopwords=ds.stopwords,
        min_frequency=ds.min_frequency,
    )
    encoder_params, ngrams = enc_params.model_dump(), spec_dict(spec)
    logged = {"encoder": encoder_params, "ngrams": ngrams, "train_subsample": ds.train_subsample}
    with st.run(logged) as run:
        prepared = read_prepared(args.prepared_dir / args.dataset)
        texts = texts_used(prepared.splits, ds.train_subsample, seed)
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
            "encoder": encoder_params,
            "identity": encoder.identity,
            "ngrams": ngrams,
            "cache": {"namespace": cache.namespace, "dir": str(cache_dir)},
        }
        write_index(args.out_dir / args.dataset, table, vectors, texts.select("id", "split"), meta)
        metrics = index_metrics(texts.height, table, stats)
        machine = cache_metrics(stats, encoder.n_truncated)
        write_json(args.metrics_dir / f"{args.dataset}.json", metrics)
        run.log_metrics({**metrics, **{k: v for k, v in machine.items() if v is not None}})
    log.info("%s: %s %s", args.dataset, metrics, machine)


if __name__ == "__main__":
    exit_with(run_main(main, None))
