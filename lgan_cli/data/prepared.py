"""Reading a prepared dataset (the output of `lgan prepare`): items, splits and pairs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
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
    size: int  # the crop size this item is served at (may be smaller than the stored crop)

    def load_crop(self) -> np.ndarray:
        with Image.open(self.crop_path) as image:
            crop = np.asarray(image.convert("RGB"))
        if crop.shape[0] != self.size:
            crop = cv2.resize(crop, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return crop

    def as_record(self) -> FaceRecord:
        return FaceRecord(self.crop_path, self.identity, self.expression, self.intensity, self.attrs)


@dataclass(frozen=True)
class PreparedDataset:
    root: Path
    config: dict
    items: tuple[PreparedItem, ...]
    resolution: int

    @classmethod
    def load(cls, root: Path | str, resolution: int | None = None) -> PreparedDataset:
        """Read a prepared dataset, optionally served at a smaller `resolution` than it was stored at.

        Crops share one alignment frame whatever their size, so shrinking a 128 px crop to 64 px
        (area averaging, points scaled on pixel centres) equals preparing at 64 px.
        """
        root = Path(root)
        document = read_index(root)
        stored = int(document["config"]["resolution"])
        size = resolution or stored
        if size > stored:
            raise DatasetError(
                f"{root} was prepared at {stored} px; it cannot serve {size} px crops (prepare it again)"
            )
        scale = size / stored
        items = tuple(
            PreparedItem(
                key=entry["key"],
                crop_path=root / entry["crop"],
                points68=((np.asarray(entry["points68"], dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32),
                identity=entry["identity"],
                expression=entry["expression"],
                intensity=entry["intensity"],
                attrs=tuple(sorted(entry.get("attrs", {}).items())),
                split=entry["split"],
                blendshapes=entry.get("blendshapes", {}),
                size=size,
            )
            for entry in document["items"]
        )
        return cls(root=root, config=document["config"], items=items, resolution=size)

    @property
    def expressions(self) -> tuple[str, ...]:
        return tuple(sorted({item.expression for item in self.items}))

    def split(self, name: str) -> list[PreparedItem]:
        chosen = [item for item in self.items if item.split == name]
        if not chosen:
            found = sorted({item.split for item in self.items})
            raise DatasetError(f"{self.root} has no items in split '{name}' (splits present: {', '.join(found)})")
        return chosen

    def pairs(self, split: str, mode: str = "all") -> list[tuple[PreparedItem, PreparedItem]]:
        """(source, target) pairs of the same person within one split (`mode`: see PAIR_MODES)."""
        items = self.split(split)
        by_path = {item.crop_path: item for item in items}
        return [
            (by_path[s.path], by_path[t.path]) for s, t in make_pairs([item.as_record() for item in items], mode=mode)
        ]
