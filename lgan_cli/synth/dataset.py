"""Generating a whole synthetic data set into the prepared format of `lgan prepare`.

Each identity (`synth0000`, `synth0001`, ...) is drawn from its own seed (`seed`, index), so a
person looks the same whatever the number of identities, and a resumed run re-creates exactly
the images a full run would. Per identity: neutral once, then every other RaFD expression at
the intensity levels 1..4 (29 images). Crops are aligned by `align_face` from the projected 68
landmark vertices, as `lgan prepare` aligns detected points, so a model trained here takes real
photos prepared the usual way. Identities are split by `split_by_identity` with the usual seed
and test fraction.

The output is an ordinary prepared folder: `index.json` (format "lgan-prepared", written by
prepare's own `index_document`) plus `crops/*.png`. Items carry the prepared fields
(`identity`, `expression`, `intensity` (None for neutral), `attrs` {}, `split`, `points68` in
crop pixels, `crop`) and, beyond them, `visible68` (landmark visibility from the z-buffer),
`alignment` (virtual photo -> crop) and `ict_blendshapes` (the expression's blendshape weights,
on top of the person's resting lids; ICT names, not MediaPipe's, hence not under prepare's
`blendshapes` key).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from lgan_cli.data.prepare import INDEX_NAME, index_document, read_index
from lgan_cli.data.records import RAFD_EXPRESSIONS, FaceRecord
from lgan_cli.data.splits import split_by_identity
from lgan_cli.errors import DatasetError
from lgan_cli.faces.decode import save_image
from lgan_cli.fileio import atomic_write_json
from lgan_cli.synth.facemodel import load_face_model
from lgan_cli.synth.recipes import INTENSITY_LEVELS, INTENSITY_SCALE, blendshape_weights
from lgan_cli.synth.render import FaceRenderer, sample_identity_scene

DATASET_NAME = "ict-synth"
SAVE_EVERY_SECONDS = 5.0


@dataclass(frozen=True)
class SynthConfig:
    """Everything that decides the content of a synthetic set (saved in the index's config).

    The first fields mirror `PrepareConfig` (dataset, data_root = the face model, resolution,
    zoom, seed, fractions), so tools reading a prepared index find what they expect.
    """

    dataset: str = DATASET_NAME
    data_root: str = ""  # the ICT model used ('' = the default location)
    resolution: int = 128
    zoom: float = 1.0
    seed: int = 0
    test_fraction: float = 0.2
    val_fraction: float = 0.0
    test_ids: tuple[str, ...] | None = None
    identities: int = 20
    texture_size: int = 512
    supersample: int = 2
    intensity_scale: dict[int, float] = field(default_factory=lambda: dict(INTENSITY_SCALE))

    def content_key(self) -> dict:
        """The settings that must match for an existing folder to be resumed."""
        return {
            "dataset": self.dataset,
            "resolution": self.resolution,
            "seed": self.seed,
            "texture_size": self.texture_size,
            "supersample": self.supersample,
        }


@dataclass(frozen=True)
class SynthItem:
    """One image to render: whose, which expression, which intensity level (None: neutral)."""

    identity_index: int
    expression: str
    intensity: int | None

    @property
    def identity(self) -> str:
        return identity_name(self.identity_index)

    @property
    def key(self) -> str:
        return f"{self.identity}__{self.expression}__{self.intensity or 0}"


@dataclass
class SynthReport:
    total: int = 0
    rendered: int = 0
    reused: int = 0
    identities: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def identity_name(index: int) -> str:
    return f"synth{index:04d}"


def plan_items(identities: int) -> list[SynthItem]:
    """Per identity: neutral once, every other RaFD expression at each intensity level."""
    items = []
    for index in range(identities):
        for expression in RAFD_EXPRESSIONS:
            levels = (None,) if expression == "neutral" else INTENSITY_LEVELS
            items.extend(SynthItem(index, expression, level) for level in levels)
    return items


def identity_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of one identity: independent of how many identities a run makes."""
    return np.random.default_rng([seed, index])


def generate_dataset(
    config: SynthConfig,
    out_dir: Path,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[SynthItem, str], None] | None = None,
) -> SynthReport:
    """Render (or resume rendering) `config`'s set into `out_dir`; returns what happened.

    `on_progress(item, status)` is called once per image, status 'rendered' or 'reused'.
    The index is rewritten atomically every few seconds and when the run ends (also on
    Ctrl-C), so an interrupted run resumes where it stopped.
    """
    if config.identities < 1:
        raise DatasetError("need at least one identity")
    started = time.perf_counter()
    model = load_face_model(config.data_root or None)  # fails before anything is written
    config = replace(config, data_root=str(model.source_path))  # record which model made the set
    out_dir = Path(out_dir)
    (out_dir / "crops").mkdir(parents=True, exist_ok=True)
    previous = _load_previous(out_dir, config)
    plan = plan_items(config.identities)
    records = [
        FaceRecord(out_dir / f"crops/{item.key}.png", item.identity, item.expression, item.intensity) for item in plan
    ]
    splits = split_by_identity(
        records,
        test_fraction=config.test_fraction,
        seed=config.seed,
        test_ids=list(config.test_ids) if config.test_ids else None,
        val_fraction=config.val_fraction,
    )
    report = SynthReport(total=len(plan), identities=config.identities)
    report.splits = {name: sum(1 for s in splits.values() if s == name) for name in sorted(set(splits.values()))}
    if on_start:
        on_start(len(plan))

    renderer: FaceRenderer | None = None  # built on the first identity that needs rendering
    items: dict[str, dict] = {}
    index_path = out_dir / INDEX_NAME

    def save() -> None:
        atomic_write_json(index_path, index_document(config, splits, items, {}))

    last_save = time.monotonic()
    try:
        for index in range(config.identities):
            todo = [item for item in plan if item.identity_index == index]
            reusable = {
                item.key: previous[item.key]
                for item in todo
                if item.key in previous and (out_dir / previous[item.key]["crop"]).is_file()
            }
            scene = None
            for item in todo:
                if item.key in reusable:
                    entry, status = dict(reusable[item.key]), "reused"
                    report.reused += 1
                else:
                    if scene is None:
                        renderer = renderer or FaceRenderer(model, config.texture_size, config.supersample)
                        scene = sample_identity_scene(renderer, identity_rng(config.seed, index))
                    entry, status = _render_item(renderer, scene, item, config, out_dir), "rendered"
                    report.rendered += 1
                entry["split"] = splits[item.identity]
                items[item.key] = entry
                if on_progress:
                    on_progress(item, status)
                if time.monotonic() - last_save > SAVE_EVERY_SECONDS:
                    save()
                    last_save = time.monotonic()
    finally:
        save()
    report.seconds = time.perf_counter() - started
    return report


def _render_item(renderer: FaceRenderer, scene, item: SynthItem, config: SynthConfig, out_dir: Path) -> dict:
    weights = (
        {}
        if item.intensity is None and item.expression == "neutral"
        else blendshape_weights(item.expression, item.intensity)
    )
    rendering = renderer.render(scene, weights, config.resolution)
    crop_name = f"crops/{item.key}.png"
    save_image(rendering.image, out_dir / crop_name)
    return {
        "key": item.key,
        "source": f"{DATASET_NAME}:{item.identity}/{item.expression}/{item.intensity or 0}",
        "crop": crop_name,
        "identity": item.identity,
        "expression": item.expression,
        "intensity": item.intensity,
        "attrs": {},
        "points68": np.round(rendering.points68.astype(np.float64), 3).tolist(),
        "visible68": [bool(v) for v in rendering.visible68],
        "alignment": rendering.alignment.to_json(),
        "ict_blendshapes": {name: round(float(value), 4) for name, value in sorted(weights.items())},
    }


def _load_previous(out_dir: Path, config: SynthConfig) -> dict[str, dict]:
    """Items of an earlier run into the same folder, after checking it made the same set."""
    if not (out_dir / INDEX_NAME).exists():
        return {}
    document = read_index(out_dir)
    old = document.get("config", {})
    if old.get("dataset") != DATASET_NAME:
        raise DatasetError(f"{out_dir} holds a prepared '{old.get('dataset')}' data set; use another --out folder")
    old_key = {name: old.get(name) for name in config.content_key()}
    if old_key != config.content_key():
        raise DatasetError(
            f"{out_dir} holds a synthetic set made with {old_key}, not {config.content_key()}; use another --out folder"
        )
    return {entry["key"]: entry for entry in document["items"]}
