"""Atomic file writes: a temporary file in the target folder, fsync, then a rename.

An interrupted run never leaves a half-written output under the final name, and a failed
write leaves an existing file untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _create_temp(target: Path) -> tuple[int, Path]:
    """A new hidden temp file next to `target` (same folder, so the rename is atomic).

    Created with mode 0o666 so the umask applies as for any new file (mkstemp's 0o600
    would leave outputs private).
    """
    while True:
        temp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_writer(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Yield a file handle whose content replaces `path` only if the block finishes."""
    target = Path(path)
    fd, temp = _create_temp(target)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    finally:  # also on Ctrl-C: never leave the temp file behind
        temp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_writer(path, "w") as handle:
        handle.write(text)


def atomic_write_json(path: str | Path, data: Any, indent: int | None = 1) -> None:
    atomic_write_text(path, json.dumps(data, indent=indent) + "\n")
