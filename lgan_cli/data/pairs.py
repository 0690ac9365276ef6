"""(source, target) training pairs.

LandmarkGAN is trained with paired supervision: the generator gets a photo of a person
with one expression and must produce the same person with another, and a real photo of
that person with the target expression is the ground truth for the reconstruction and
landmark losses. Such a ground truth only exists within one identity, and only when
everything else about the shot matches too: RaFD photographs each face from five
cameras with three gaze directions, so pairs must also share those (`FaceRecord.attrs`),
otherwise the "expression change" would include a head turn. (FERG is the exception the
data forces on us: one character's poses differ between expressions, yet pairs are
still formed by character.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from lgan_cli.data.records import FaceRecord, record_sort_key
from lgan_cli.errors import DatasetError

_ShotKey = tuple[str, tuple[tuple[str, str], ...]]

PAIR_MODES = ("all", "neutral")
"""Which pairs to form: "all" ordered pairs, or "neutral": only pairs with a neutral face on
one side (neutral -> each expression at each intensity, and back). With 8 expressions at 4
intensities a person has 812 ordered pairs but only 56 through neutral: the editing task a
photo editor faces (a photo's expression is usually unknown, but neutral is its anchor)."""


def _group_by_shot(records: Iterable[FaceRecord]) -> list[list[FaceRecord]]:
    """Records grouped by (identity, attrs), groups and members in a stable order."""
    groups: dict[_ShotKey, list[FaceRecord]] = defaultdict(list)
    for record in records:
        groups[(record.identity, record.attrs)].append(record)
    return [sorted(groups[key], key=record_sort_key) for key in sorted(groups)]


def _is_change(source: FaceRecord, target: FaceRecord) -> bool:
    """A pair teaches something only if the expression or its intensity differs."""
    return source.expression != target.expression or source.intensity != target.intensity


def _expression_filter(names: Iterable[str] | None, known: set[str], role: str) -> set[str] | None:
    """Normalise an optional filter; reject names the records never use (likely typos)."""
    if names is None:
        return None
    wanted = {name.strip().lower() for name in names}
    unknown = sorted(wanted - known)
    if unknown:
        raise DatasetError(
            f"unknown {role} expression(s): {', '.join(unknown)}; the data has: {', '.join(sorted(known))}"
        )
    return wanted


def iter_pairs(
    records: Iterable[FaceRecord],
    source_expressions: Iterable[str] | None = None,
    target_expressions: Iterable[str] | None = None,
    mode: str = "all",
) -> Iterator[tuple[FaceRecord, FaceRecord]]:
    """Like `make_pairs` but lazy, for datasets where the full list is large (FERG has
    thousands of photos per character, so tens of millions of ordered pairs)."""
    if mode not in PAIR_MODES:
        raise DatasetError(f"unknown pairs mode {mode!r}; choose one of: {', '.join(PAIR_MODES)}")
    records = list(records)
    known = {record.expression for record in records}
    sources = _expression_filter(source_expressions, known, "source")
    targets = _expression_filter(target_expressions, known, "target")
    for group in _group_by_shot(records):
        for source in group:
            if sources is not None and source.expression not in sources:
                continue
            for target in group:
                if targets is not None and target.expression not in targets:
                    continue
                if mode == "neutral" and "neutral" not in (source.expression, target.expression):
                    continue
                if _is_change(source, target):
                    yield source, target


def make_pairs(
    records: Iterable[FaceRecord],
    source_expressions: Iterable[str] | None = None,
    target_expressions: Iterable[str] | None = None,
    mode: str = "all",
) -> list[tuple[FaceRecord, FaceRecord]]:
    """All ordered (source, target) pairs of the same identity and the same attrs whose
    expression differs, or whose expression is the same at a different intensity
    (BU-3DFE: neutral -> happy 1..4, and happy 1 -> happy 3).

    The order is fixed by the labels, not by the order of `records`. The optional
    filters keep only pairs whose source / target expression is among those named; `mode`
    "neutral" keeps only pairs through neutral (see PAIR_MODES).
    """
    return list(iter_pairs(records, source_expressions, target_expressions, mode))


def spread_evenly(items: list, limit: int | None) -> list:
    """`limit` items evenly spaced over `items` (all of them when `limit` is None or larger):
    a subset that still covers every person and expression of an ordered pair list."""
    if limit is None or limit >= len(items):
        return list(items)
    return [items[(i * len(items)) // limit] for i in range(limit)]
