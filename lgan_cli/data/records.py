"""One labelled face photo, as every dataset adapter reports it.

Adapters differ only in how they read file names; everything downstream (splits, pairs,
the prepare cache) works on `FaceRecord`s, so it never needs to know which dataset it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Canonical expression names (RaFD's). Adapters for labelled datasets map their own
#: codes onto these, so a model trained on one dataset names expressions like another.
RAFD_EXPRESSIONS: tuple[str, ...] = (
    "neutral",
    "angry",
    "contemptuous",
    "disgusted",
    "fearful",
    "happy",
    "sad",
    "surprised",
)


@dataclass(frozen=True)
class FaceRecord:
    """A face photo with its labels.

    `identity` names the person (or cartoon character); `intensity` is the expression
    strength where the dataset grades it (BU-3DFE 1..4), else None. `attrs` holds
    dataset-specific keys that must match for two photos to count as "the same shot
    apart from the expression" (RaFD: camera angle and gaze). It is a sorted tuple of
    (name, value) pairs rather than a dict so that records stay hashable and compare
    equal regardless of the order the pairs were given in.
    """

    path: Path
    identity: str
    expression: str
    intensity: int | None
    attrs: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Normalise so that equal labels give equal (and equally hashed) records.
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "attrs", tuple(sorted((str(k), str(v)) for k, v in self.attrs)))

    @property
    def attrs_dict(self) -> dict[str, str]:
        """The attrs as a fresh dict (mutating it does not change the record)."""
        return dict(self.attrs)

    def attr(self, name: str, default: str | None = None) -> str | None:
        """One attr's value, or `default` when this dataset has no such key."""
        return self.attrs_dict.get(name, default)


def record_sort_key(record: FaceRecord) -> tuple:
    """Sort key giving a stable order: by person, expression, intensity, shot, then file."""
    intensity = -1 if record.intensity is None else record.intensity
    return (record.identity, record.expression, intensity, record.attrs, str(record.path))
