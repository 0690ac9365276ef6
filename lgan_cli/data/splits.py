"""Train / val / test splits by identity.

Splitting by person (never by photo) keeps every test face unseen during training, so
evaluation measures how the model edits new people rather than how well it remembers
the ones it was trained on.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from lgan_cli.data.records import FaceRecord
from lgan_cli.errors import DatasetError

TRAIN, VAL, TEST = "train", "val", "test"


def _count(total: int, fraction: float) -> int:
    """`fraction` of `total`, rounded half up (Python's round() would round half to even)."""
    return math.floor(total * fraction + 0.5)


def _check_fractions(test_fraction: float, val_fraction: float) -> None:
    for name, value in (("test fraction", test_fraction), ("val fraction", val_fraction)):
        if not 0.0 <= value < 1.0:
            raise DatasetError(f"{name} must be at least 0 and below 1, got {value}")
    if test_fraction + val_fraction >= 1.0:
        raise DatasetError(
            f"test fraction + val fraction must leave some identities for training, "
            f"got {test_fraction} + {val_fraction}"
        )


def _shuffled(ids: Iterable[str], seed: int) -> list[str]:
    """Sort first, then shuffle: the result depends on the seed, not on input order."""
    ordered = sorted(ids)
    random.Random(seed).shuffle(ordered)
    return ordered


def _val_count(n_total: int, n_available: int, val_fraction: float) -> int:
    """How many of `n_available` identities go to val, always leaving one for training."""
    if val_fraction <= 0 or n_available < 2:
        return 0
    return min(max(1, _count(n_total, val_fraction)), n_available - 1)


def _fixed_test_ids(all_ids: set[str], test_ids: Sequence[str]) -> set[str]:
    chosen = {str(identity).strip() for identity in test_ids} - {""}
    if not chosen:
        raise DatasetError("the test id list is empty")
    unknown = sorted(chosen - all_ids)
    if unknown:
        raise DatasetError(f"unknown test ids (not in the dataset): {', '.join(unknown)}")
    if chosen == all_ids:
        raise DatasetError("the test id list names every identity; none would be left to train on")
    return chosen


def split_by_identity(
    records: Iterable[FaceRecord],
    test_fraction: float = 0.2,
    seed: int = 0,
    test_ids: Sequence[str] | None = None,
    val_fraction: float = 0.0,
) -> dict[str, str]:
    """Map each identity to "train", "val" or "test".

    Without `test_ids`, a seeded shuffle of the sorted identities picks the test set
    (and then the val set) by fraction of all identities; at least one identity stays
    in train, and when `test_fraction` > 0 with two or more identities at least one
    goes to test. With `test_ids`, exactly those are test (so published protocols can
    be reproduced) and val, if asked for, is drawn from the rest.
    """
    _check_fractions(test_fraction, val_fraction)
    all_ids = {record.identity for record in records}
    if not all_ids:
        raise DatasetError("no identities to split: the dataset is empty")
    n_total = len(all_ids)

    if test_ids is not None:
        test = _fixed_test_ids(all_ids, test_ids)
    else:
        n_test = 0
        if test_fraction > 0 and n_total >= 2:
            n_test = min(max(1, _count(n_total, test_fraction)), n_total - 1)
        test = set(_shuffled(all_ids, seed)[:n_test])

    rest = _shuffled(all_ids - test, seed)
    val = set(rest[: _val_count(n_total, len(rest), val_fraction)])

    split = {}
    for identity in sorted(all_ids):
        split[identity] = TEST if identity in test else VAL if identity in val else TRAIN
    return split


def parse_id_list(text_or_path: str | Path) -> list[str]:
    """Identities from "001,002,017" or from a text file (one per line or comma separated).

    A `Path` must name a file; a string is read as a file when one exists at that path,
    otherwise as the list itself. Blank entries and `#` comment lines are ignored and
    duplicates dropped, keeping first-seen order.
    """
    if isinstance(text_or_path, Path) or Path(text_or_path).is_file():
        path = Path(text_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DatasetError(f"cannot read id list {path}: {exc}") from None
    else:
        text = text_or_path

    ids: list[str] = []
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        for item in line.split(","):
            identity = item.strip()
            if identity and identity not in ids:
                ids.append(identity)
    return ids
