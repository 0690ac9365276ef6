"""The face model's edit-time cuts (landmark basis, mouth interior) kept on disk between runs.

ICT-FaceKit's modes are stored compressed; reading them costs about half a second per process,
more than the rest of an edit. What an edit needs from them is small (the 68 landmark rows,
~70 KB; the mouth's interior, ~5 MB), so each cut is saved once, uncompressed, in the user
cache (`assets.cache_dir()`), under a key of the model file's path, size and modification
time. A cached file is checked like anything read from a user's folder: if it does not hold
the arrays its consumer expects it is rebuilt, never trusted; a cache that cannot be written
only costs the time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lgan_cli.assets import cache_dir

CACHE_VERSION = 1  # bump when a cut's contents change
Arrays = dict[str, np.ndarray]


def cache_path(kind: str, model_path: Path) -> Path:
    """Where the cut `kind` of the model at `model_path` is kept."""
    stat = Path(model_path).stat()
    identity = f"{Path(model_path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{kind}|{CACHE_VERSION}"
    return cache_dir() / f"ict-{kind}-{hashlib.sha256(identity.encode()).hexdigest()[:16]}.npz"


def cached_cut(kind: str, model_path: Path, build: Callable[[], Arrays], check: Callable[[Arrays], None]) -> Arrays:
    """The arrays of cut `kind`: from the cache when a valid copy is there, else `build()` (and
    saved). `check` raises ValueError (or KeyError) for arrays that are not what it needs."""
    path = cache_path(kind, model_path)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            check(arrays)
            return arrays
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # corrupt, truncated or from another version: rebuilt below
    arrays = build()
    check(arrays)
    _save(path, arrays)
    return arrays


def _save(path: Path, arrays: Arrays) -> None:
    """Write atomically (a reader never sees half a file); a read-only cache is no error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(out, **arrays)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError:
        pass


def check_arrays(arrays: Arrays, shapes: dict[str, tuple[int | str, ...]]) -> None:
    """Raise ValueError unless `arrays` has exactly the named arrays, finite where numeric, with
    the given shapes; a str in a shape is a size that must agree wherever the same name appears."""
    if set(arrays) != set(shapes):
        raise ValueError(f"expected arrays {sorted(shapes)}, got {sorted(arrays)}")
    sizes: dict[str, int] = {}
    for name, shape in shapes.items():
        array = arrays[name]
        if array.ndim != len(shape):
            raise ValueError(f"{name}: expected {len(shape)} dimensions, got {array.ndim}")
        for size, actual in zip(shape, array.shape):
            if isinstance(size, str):
                size = sizes.setdefault(size, actual)
            if size != actual:
                raise ValueError(f"{name}: expected shape {shape}, got {array.shape}")
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            raise ValueError(f"{name}: not finite")
