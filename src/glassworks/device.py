"""Where tensors run: one helper shared by the encoders, the text classifiers and the tabular
networks (``auto`` picks CUDA when a GPU is present)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is present, else ``cpu``; anything else is returned as is."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the body with torch's intra-op thread count at ``n`` (None: leave it), restored after.

    Float sums split over threads round differently, so a model trained with 1 thread and with 2
    differs in the last bits. A fixed count makes training bit-reproducible whatever the machine's
    core count and however many stages run at once (parallelism then comes from running stages
    side by side). Like scikit-learn's ``n_jobs``, it sets a process-wide setting; it is restored
    when the body ends.
    """
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
