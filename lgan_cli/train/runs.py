"""Numbered run folders (`runs/00007-name/`) and their `stats.jsonl` log."""

from __future__ import annotations

import json
import re
from pathlib import Path

from lgan_cli.fileio import atomic_write_text

RUN_PATTERN = re.compile(r"^(\d{5})-")


def new_run_dir(out: Path, name: str) -> Path:
    """Create the next numbered folder under `out` (numbers never reused, gaps allowed)."""
    out.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in out.iterdir() if (m := RUN_PATTERN.match(p.name))]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"
    while True:
        folder = out / f"{(max(numbers, default=-1) + 1):05d}-{safe}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:  # another process took the number: try the next
            numbers.append(int(folder.name[:5]))


class StatsLog:
    """Appends one JSON object per line; flushed at once so `tail -f` and crashes lose nothing."""

    def __init__(self, path: Path):
        self.path = path

    def write(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=_plain) + "\n")

    def read(self) -> list[dict]:
        """Every record; a line a killed process left half-written is dropped, not an error."""
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def truncate_after(self, step: int, warmup_step: int | None = None) -> None:
        """On resume, drop lines logged after the checkpoint's step (they will be logged again)."""
        kept = [
            r
            for r in self.read()
            if _count(r, "step") <= step and (warmup_step is None or _count(r, "warmup_step") <= warmup_step)
        ]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))


def _count(record: dict, key: str) -> float:
    """A record's step counter; one that is no number (a damaged line) sorts after every step."""
    value = record.get(key, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else float("inf")


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot log {type(value).__name__}")
