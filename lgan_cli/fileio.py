"""Atomic file writes: a temporary file in the target folder, fsync, then a rename.

An interrupted run never leaves a half-written output under the final name, and a failed
write leaves an existing file untouched.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

NAME_MAX = 255  # bytes in one file name (Linux, macOS, Windows)
PATH_MAX = 4095  # bytes in a whole path (Linux)


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


def publish_together(writes: list[tuple[Path, Callable[[IO[bytes]], object]]]) -> None:
    """Write every file in full to a temporary name, then rename them all, in the given order.

    Files that belong together (a checkpoint's weights and training state) are never
    published one complete and one half-written; a failure before the renames publishes
    none and leaves no temporary file.
    """
    temps: list[tuple[Path, Path]] = []
    try:
        for target, write in writes:
            fd, temp = _create_temp(Path(target))
            temps.append((temp, Path(target)))
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
        for temp, target in temps:
            os.replace(temp, target)
    finally:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)


def remove_temp_files(folder: Path, names: Iterable[str]) -> None:
    """Remove the temporary files `_create_temp` made for `names` in `folder` (left by a killed
    process); only for folders no other process is writing into."""
    for name in names:
        for temp in Path(folder).glob(f".{glob.escape(name)}.*.tmp"):
            temp.unlink(missing_ok=True)


def unwritable_reason(folder: Path) -> str | None:
    """Why no file can be created in `folder` (None: one can), found by creating and removing
    a hidden temporary file: permission bits say nothing for root, read-only mounts or /proc."""
    try:
        fd, temp = _create_temp(Path(folder) / "probe")
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    temp.unlink(missing_ok=True)
    return None


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_writer(path, "w") as handle:
        handle.write(text)


def atomic_write_json(path: str | Path, data: Any, indent: int | None = 1) -> None:
    atomic_write_text(path, json.dumps(data, indent=indent) + "\n")


def rewrite_generated_block(path: str | Path, opening: str, rows: str, closing: str) -> None:
    """Replace a generated constant in a source file: everything from the line `opening` to the
    next line that is exactly `closing` becomes `opening`, `rows`, `closing` (the calibration
    scripts write their results into the modules that use them)."""
    path = Path(path)
    pattern = re.escape(opening) + r"\n(?:.*\n)*?" + re.escape(closing) + r"\n"
    source = path.read_text()
    if not re.search(pattern, source):
        raise ValueError(f"{path} has no block opened by {opening!r}")
    replacement = f"{opening}\n{rows}{closing}\n"
    atomic_write_text(path, re.sub(pattern, lambda _: replacement, source, count=1))


def read_json_object(path: str | Path, what: str, max_bytes: int) -> dict:
    """A JSON file holding one object, or a one-line LganError naming the file.

    Covers the ways a copied or downloaded file goes wrong: unreadable, too big to be what it
    claims (`max_bytes`, checked before reading), not UTF-8, not JSON, nested too deeply for
    the parser, or JSON that is no object.
    """
    from lgan_cli.errors import LganError

    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise LganError(f"{path} is {size:,} bytes, too big for {what} (at most {max_bytes:,})")
        document = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LganError(f"cannot read {what} {path}: {' '.join(str(exc).split())[:200]}") from None
    except RecursionError:
        raise LganError(f"cannot read {what} {path}: nested too deeply") from None
    if not isinstance(document, dict):
        kind = {list: "a list", str: "a string", type(None): "null"}.get(type(document), "a number")
        raise LganError(f"{path} is not {what}: it holds {kind}, not a JSON object")
    return document
