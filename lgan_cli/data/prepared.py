"""Reading a prepared dataset (the output of `lgan prepare`): items, splits and pairs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from lgan_cli.data.pairs import make_pairs
from lgan_cli.data.prepare import read_index
from lgan_cli.data.records import FaceRecord
from lgan_cli.errors import DatasetError


@dataclass(frozen=True)
class PreparedItem:
    """One aligned crop with its labels and 68 points (crop pixels)."""

    key: str
    crop_path: Path
    points68: np.ndarray
    identity: str
    expression: str
    intensity: int | None
    attrs: tuple[tuple[str, str], ...]
    split: str
    blendshapes: dict[str, float]

    def load_crop(self) -> np.ndarray:
        with Image.open(self.crop_path) as image:
            return np.asarray(image.convert("RGB"))

    def as_record(self) -> FaceRecord:
        return FaceRecord(self.crop_path, self.identity, self.expression, self.intensity, self.attrs)


@dataclass(frozen=True)
class PreparedDataset:
    root: Path
    config: dict
    items: tuple[PreparedItem, ...]

    @classmethod
    def load(cls, root: Path | str) -> PreparedDataset:
        root = Path(root)
        document = read_index(root)
        items = tuple(
            PreparedItem(
                key=entry["key"],
                crop_path=root / entry["crop"],
                points68=np.asarray(entry["points68"], dtype=np.float32),
                identity=entry["identity"],
                expression=entry["expression"],
                intensity=entry["intensity"],
                attrs=tuple(sorted(entry.get("attrs", {}).items())),
                split=entry["split"],
                blendshapes=entry.get("blendshapes", {}),
            )
            for entry in document["items"]
        )
        return cls(root=root, config=document["config"], items=items)

    @property
    def resolution(self) -> int:
        return int(self.config["resolution"])

    @property
    def expressions(self) -> tuple[str, ...]:
        return tuple(sorted({item.expression for item in self.items}))

    def split(self, name: str) -> list[PreparedItem]:
        chosen = [item for item in self.items if item.split == name]
        if not chosen:
            found = sorted({item.split for item in self.items})
            raise DatasetError(f"{self.root} has no items in split '{name}' (splits present: {', '.join(found)})")
        return chosen

    def pairs(self, split: str) -> list[tuple[PreparedItem, PreparedItem]]:
        """(source, target) pairs of the same person within one split."""
        items = self.split(split)
        by_path = {item.crop_path: item for item in items}
        return [(by_path[s.path], by_path[t.path]) for s, t in make_pairs([item.as_record() for item in items])]
