"""``dvc``, with ``dvc.lock`` read by DVC's own fast reader when DVC updates it.

    python -m flows.dvc_cli repro --single-item <stage>     # what the pipeline flow runs

Each ``dvc repro`` rewrites ``dvc.lock`` after its stage. DVC reads the file for that with
ruamel's round-trip parser, which keeps comments and layout but is pure Python: on this
project's 12,500-line lock, half of the update. DVC writes the lock itself and puts no comment
in it, so nothing is there to keep: this entry point reads it for the update with DVC's
``parse_yaml`` (the C parser DVC already uses whenever it only reads the lock). DVC's own writer
still writes it, so the file is byte-for-byte what ``dvc`` writes (``tests/flows/test_dvc_cli.py``
checks both on the committed lock and through a real ``dvc repro``). Measured side by side
(``benchmarks/dvc_overhead.py``, median of 5 on 2 quiet cores): the update 1.97 s -> 0.96 s, and
DVC's whole overhead around a stage 2.9 s -> 1.8 s, about 2 minutes over `make run`'s 119 stages.
Any other YAML file (``dvc.yaml``, ``params.yaml``) keeps the round trip.

It also parses each YAML text once per process (:func:`patch_yaml_cache`). DVC's status check
reads ``params.yaml`` anew for every stage that declares params (123 parses of the same file in
``make run``'s up-to-date check) and ``dvc.lock`` twice; the cache hands out copies of the first
parse of the same text. Parameter look-ups by a plain dotted key (``train_text.seeds``) walk the
dict instead of going through ``dpath``'s generic glob matcher (:func:`patch_param_lookup`).
Measured side by side (``benchmarks/dvc_overhead.py``): ``make run``'s check of an up-to-date
pipeline, see ``benchmarks/results/dvc_overhead.json``.

If a DVC release moves these functions, the patch is skipped with a warning and DVC runs as is.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger("glassworks.flows.dvc_cli")
LOCKFILE = "dvc.lock"


def patch_lockfile_reader() -> bool:
    """Read ``dvc.lock`` for updates with DVC's fast reader; False when DVC's layout is unknown
    (nothing patched)."""
    try:
        from dvc.utils.serialize import _yaml
    except ImportError:
        return False
    round_trip = getattr(_yaml, "parse_yaml_for_update", None)
    fast = getattr(_yaml, "parse_yaml", None)
    if round_trip is None or fast is None or not hasattr(_yaml, "modify_yaml"):
        log.warning("dvc_cli: DVC's YAML helpers moved; dvc.lock is read the slow way")
        return False
    if getattr(round_trip, "glassworks_patched", False):
        return True

    def parse_for_update(text: str, path: Any) -> Any:
        if os.path.basename(os.fspath(path)) == LOCKFILE:
            return _yaml.parse_yaml(text, path)  # the cached reader when patch_yaml_cache ran
        return round_trip(text, path)

    parse_for_update.glassworks_patched = True  # type: ignore[attr-defined]
    _yaml.parse_yaml_for_update = parse_for_update
    return True


YAML_CACHE_SIZE = 8
"""Distinct YAML texts a process keeps parsed (params.yaml, dvc.lock, a few .dvc files)."""


def patch_yaml_cache() -> bool:
    """Parse each YAML text once per process: DVC's safe (non-round-trip) reader memoised on
    ``(path, text)``, each caller getting its own deep copy (DVC may modify what it read). False
    when DVC's layout is unknown (nothing patched)."""
    try:
        from dvc.utils import serialize, strictyaml
        from dvc.utils.serialize import _yaml
    except ImportError:
        return False
    plain = getattr(_yaml, "parse_yaml", None)
    if plain is None or not hasattr(strictyaml, "parse_yaml"):
        log.warning("dvc_cli: DVC's YAML reader moved; YAML files are parsed as often as DVC asks")
        return False
    if getattr(plain, "glassworks_patched", False):
        return True
    parsed: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()  # DVC reads plots' data sources from several threads

    def parse_yaml(text: str, path: Any, typ: str = "safe") -> Any:
        if typ != "safe":  # round-trip documents carry comments and layout: not shared
            return plain(text, path, typ=typ)
        key = (os.fspath(path), text)
        with lock:
            data = parsed.get(key)
        if data is None:
            data = plain(text, path, typ=typ)
            with lock:
                while len(parsed) >= YAML_CACHE_SIZE:
                    parsed.pop(next(iter(parsed)))  # the oldest
                parsed[key] = data
        return copy.deepcopy(data)

    parse_yaml.glassworks_patched = True  # type: ignore[attr-defined]
    for module in (_yaml, serialize, strictyaml):
        module.parse_yaml = parse_yaml
    return True


def _is_plain_key(key: str) -> bool:
    return not any(c in key for c in "*?[]!")


def patch_param_lookup() -> bool:
    """Look parameters up by a plain dotted key (``train_text.seeds``) with a dict walk; a glob
    key, or one the walk does not find, goes to ``dpath`` as before (its error included). False
    when DVC's layout is unknown (nothing patched)."""
    try:
        from dvc.dependency import param
    except ImportError:
        return False
    dpath = getattr(param, "dpath", None)
    if dpath is None or not callable(getattr(dpath, "get", None)):
        log.warning("dvc_cli: DVC's params reader moved; parameters are looked up by dpath")
        return False
    if isinstance(dpath, _FastDpath):
        return True
    param.dpath = _FastDpath(dpath)
    return True


class _FastDpath:
    """``dpath`` with a fast ``get`` for plain dotted keys; everything else is ``dpath``'s."""

    def __init__(self, dpath: Any) -> None:
        self._dpath = dpath
        self._get: Callable[..., Any] = dpath.get

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dpath, name)

    def get(self, obj: Any, glob: str, separator: str = "/", **kwargs: Any) -> Any:
        if not kwargs and isinstance(glob, str) and _is_plain_key(glob):
            node = obj
            for part in glob.split(separator):
                number = int(part) if part.isdecimal() and part.isascii() else None
                if not part or (isinstance(node, dict) and number is not None and number in node):
                    break  # an empty or ambiguous key ("1" and 1): dpath decides (and errs)
                if isinstance(node, dict) and part in node:
                    node = node[part]
                elif isinstance(node, list) and number is not None and number < len(node):
                    node = node[number]
                else:
                    break
            else:
                return node
        return self._get(obj, glob, separator=separator, **kwargs)


def patch_reads() -> None:
    """Every read-side speed-up of this module (DVC's results unchanged)."""
    patch_yaml_cache()
    patch_param_lookup()
    patch_lockfile_reader()


def main(argv: Sequence[str] | None = None) -> int:
    """``dvc <argv>`` with :func:`patch_reads` applied; DVC's exit code."""
    patch_reads()
    from dvc.cli import main as dvc_main

    return int(dvc_main(list(sys.argv[1:] if argv is None else argv)) or 0)


if __name__ == "__main__":
    sys.exit(main())
