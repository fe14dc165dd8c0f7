"""Where tensors run: one helper shared by the encoders, the text classifiers and the tabular
networks (``auto`` picks CUDA when a GPU is present)."""

from __future__ import annotations


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is present, else ``cpu``; anything else is returned as is."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device
