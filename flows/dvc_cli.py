"""``dvc``, with ``dvc.lock`` read by DVC's own fast reader when DVC updates it, and only its
changed entries written anew.

    python -m flows.dvc_cli repro --single-item <stage>     # what the pipeline flow runs

Each ``dvc repro`` rewrites ``dvc.lock`` after its stage. DVC reads the file for that with
ruamel's round-trip parser, which keeps comments and layout but is pure Python: on this
project's 12,500-line lock, half of the update. DVC writes the lock itself and puts no comment
in it, so nothing is there to keep: this entry point reads it for the update with DVC's
``parse_yaml`` (the C parser DVC already uses whenever it only reads the lock); the values are
the same, and the file written is byte-for-byte what ``dvc`` writes (``tests/flows/test_dvc_cli.py``
checks both on the committed lock and through a real ``dvc repro``). Measured side by side
(``benchmarks/dvc_overhead.py``, median of 5 on 2 quiet cores): the update 1.97 s -> 0.96 s, and
DVC's whole overhead around a stage 2.9 s -> 1.8 s, about 2 minutes over `make run`'s 119 stages.
Any other YAML file (``dvc.yaml``, ``params.yaml``) keeps the round trip.

It writes the lock by re-emitting only what changed (:func:`patch_lockfile_writer`). After a
stage DVC dumps the whole lock again with ruamel's pure-Python emitter (about 1 s for 14,000
lines) to change one entry. The shim keeps the text it read for the update, cut into one block
per stage, keeps the text of each entry that is the same as before (same types, key order and
scalar ``repr``) and writes only the changed or new ones through DVC's own dumper; a text it
cannot cut (another top-level key, a quoted stage name, a comment before the stages) or entries
sharing an object (which the full dump would write with an anchor) are dumped whole, as DVC
does. For a lock DVC wrote, the bytes are DVC's (``tests/flows/test_dvc_cli.py`` compares them
with DVC's full dump on the committed lock). One difference remains: a block of an unchanged
entry whose text is not in DVC's layout (a hand edit, a merge resolution, ``cmd: "x"`` for
``cmd: x``) is kept as it is, where DVC would reformat it; the values are the same.

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
import io
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _LockText:
    """The lock text DVC read for an update: the lines before the stages, each stage's block
    (its name line and what is indented under it) and the entries the blocks hold."""

    header: str
    blocks: dict[str, str]
    entries: dict[str, Any]


_STAGE_LINE = re.compile(r"(?m)^  ([A-Za-z0-9_][A-Za-z0-9_@.+\-/]*):\n")
_last_read: tuple[Any, _LockText] | None = None
"""The data DVC got from the last read of a lock for an update, and its text: the writer
splices only when it is asked to dump that very object (an update whose body raised leaves
nothing another dump could pick up)."""


def _cut(text: str, data: Any) -> _LockText | None:
    """``text`` cut into one block per stage of ``data``, or None when its layout is not the
    one DVC writes (``schema``, then ``stages`` and nothing after them)."""
    if not isinstance(data, dict) or list(data) != ["schema", "stages"]:
        return None
    stages = data["stages"]
    head, sep, body = text.partition("\nstages:\n")
    if not sep or not isinstance(stages, dict) or re.search(r"(?m)^\S", body):
        return None
    starts = list(_STAGE_LINE.finditer(body))
    names = [m.group(1) for m in starts]
    if names != list(stages) or (starts and starts[0].start() != 0) or (body and not starts):
        return None
    ends = [m.start() for m in starts[1:]] + [len(body)]
    blocks = {m.group(1): body[m.start() : end] for m, end in zip(starts, ends, strict=True)}
    return _LockText(head + sep, blocks, copy.deepcopy(stages))


def _remember(text: str, data: Any) -> None:
    global _last_read
    cut = _cut(text, data)
    _last_read = None if cut is None else (data, cut)


def _same(a: Any, b: Any) -> bool:
    """Equal and dumped alike: the same types all the way down, dict keys in the same order and
    scalars with the same ``repr`` (``1 == 1.0``, ``0.0 == -0.0`` and ``{a, b} == {b, a}``, but
    their YAML differs)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            _same(ka, kb) and _same(a[ka], b[kb]) for ka, kb in zip(a, b, strict=True)
        )
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return repr(a) == repr(b)


def _shares_objects(stages: dict[str, Any]) -> bool:
    """Whether a dict or list appears twice among the entries (the full dump would write it
    once with an anchor, ``&id001``, and then an alias)."""
    seen: set[int] = set()
    todo: list[Any] = list(stages.values())
    while todo:
        node = todo.pop()
        if isinstance(node, dict | list):
            if id(node) in seen:
                return True
            seen.add(id(node))
            todo.extend(node.values() if isinstance(node, dict) else node)
    return False


def patch_lockfile_writer() -> bool:
    """Write ``dvc.lock`` after an update by re-emitting only the stages whose entries changed
    (the others keep the text read for the update); False when DVC's layout is unknown (nothing
    patched). It records that text by wrapping the reader DVC updates with (the fast one when
    :func:`patch_lockfile_reader` ran first, as :func:`main` does)."""
    try:
        from dvc.utils.serialize import _yaml
    except ImportError:
        return False
    full = getattr(_yaml, "_dump", None)
    reader = getattr(_yaml, "parse_yaml_for_update", None)
    if full is None or reader is None or not hasattr(_yaml, "modify_yaml"):
        log.warning("dvc_cli: DVC's YAML writer moved; dvc.lock is written whole")
        return False
    if getattr(full, "glassworks_patched", False):
        return True

    def read_for_update(text: str, path: Any) -> Any:
        data = reader(text, path)
        if os.path.basename(os.fspath(path)) == LOCKFILE:
            _remember(text, data)
        return data

    def dump(data: Any, stream: Any) -> Any:
        global _last_read
        read, _last_read = _last_read, None
        name = getattr(stream, "name", None)
        if (
            read is None
            or read[0] is not data
            or not isinstance(name, str)
            or os.path.basename(name) != LOCKFILE
            or list(data) != ["schema", "stages"]
            or not isinstance(data["stages"], dict)
            or read[1].header != _header_of(full, data["schema"]) + "stages:\n"
            or _shares_objects(data["stages"])
        ):
            return full(data, stream)
        old = read[1]
        parts = [old.header]
        for stage, entry in data["stages"].items():
            block = old.blocks.get(stage)
            if block is None or not _same(entry, old.entries[stage]):
                one = io.StringIO()
                full({"stages": {stage: entry}}, one)
                block = one.getvalue().partition("\n")[2]
            parts.append(block)
        stream.write("".join(parts))
        return None

    dump.glassworks_patched = True  # type: ignore[attr-defined]
    dump.__wrapped__ = full  # type: ignore[attr-defined]
    read_for_update.glassworks_patched = getattr(reader, "glassworks_patched", False)  # type: ignore[attr-defined]
    _yaml.parse_yaml_for_update = read_for_update
    _yaml._dump = dump
    return True


def _header_of(full: Callable[[Any, Any], Any], schema: Any) -> str:
    """What DVC's dumper writes for the lock's ``schema`` line."""
    out = io.StringIO()
    full({"schema": schema}, out)
    return out.getvalue()


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
    """``dvc <argv>`` with :func:`patch_reads` and :func:`patch_lockfile_writer` applied; DVC's
    exit code."""
    patch_reads()
    patch_lockfile_writer()
    from dvc.cli import main as dvc_main

    return int(dvc_main(list(sys.argv[1:] if argv is None else argv)) or 0)


if __name__ == "__main__":
    sys.exit(main())
