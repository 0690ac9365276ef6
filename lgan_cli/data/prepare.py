"""`prepare`: detect, align and crop every photo of a dataset once, into a reusable cache.

The training loop never runs a detector: it reads aligned S x S crops and their 68 points
from one index file (`index.json`) written here. A run is resumable and idempotent: photos
already done (same file size and modification time) are kept, the index is rewritten
atomically every few photos, and crops are written atomically, so an interrupted run
resumes where it stopped and a finished one does nothing when repeated.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from lgan_cli.data.adapters import scan_dataset
from lgan_cli.data.records import FaceRecord
from lgan_cli.data.splits import split_by_identity
from lgan_cli.errors import DatasetError, LganError
from lgan_cli.faces.align import align_face
from lgan_cli.faces.decode import load_image, save_image
from lgan_cli.faces.detect import FaceDetector
from lgan_cli.fileio import atomic_write_json, atomic_write_text, read_json_object
from lgan_cli.names import SAFE_NAME_RULE, is_safe_name, shown

INDEX_NAME = "index.json"
SKIPPED_NAME = "skipped.csv"
FORMAT = "lgan-prepared"
FORMAT_VERSION = 1
SAVE_EVERY_SECONDS = 5.0


@dataclass(frozen=True)
class PrepareConfig:
    """Everything that decides the content of a prepared dataset (saved inside the index)."""

    dataset: str
    data_root: str
    resolution: int = 128
    zoom: float = 1.0
    seed: int = 0
    test_fraction: float = 0.2
    val_fraction: float = 0.0
    test_ids: tuple[str, ...] | None = None
    allow_outside_root: bool = False  # a `folder` CSV may name photos outside its folder

    def content_key(self) -> dict:
        """The settings that must match for an existing cache to be resumed."""
        return {"dataset": self.dataset, "resolution": self.resolution, "zoom": self.zoom}


SPLIT_SETTINGS = ("seed", "test_fraction", "val_fraction", "test_ids")
"""The PrepareConfig fields that decide the identity split (a training run's data settings hold them too)."""


def split_settings(settings: dict) -> dict:
    """The identity-split settings among `settings` (e.g. a run's data settings), ready for PrepareConfig."""
    split = {key: settings[key] for key in SPLIT_SETTINGS if key in settings}
    if split.get("test_ids") is not None:
        split["test_ids"] = tuple(split["test_ids"])
    return split


@dataclass
class PrepareReport:
    total: int = 0
    prepared: int = 0
    reused: int = 0
    skipped: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def source_signature(path: Path) -> dict:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def crop_key(record: FaceRecord, root: Path) -> str:
    """A file-system-safe name for a record's crop, unique within the dataset."""
    try:
        relative = record.path.resolve().relative_to(root.resolve())
    except ValueError:
        relative = Path(record.path.name)
    return "__".join(relative.with_suffix("").parts)


def check_crop_keys(records: Sequence[FaceRecord], root: Path) -> None:
    """Refuse, before any work, photos whose crops would share a name (`a/b.png` and
    `a__b.png`, or `x.jpg` and `x.png`): one would silently replace the other."""
    seen: dict[str, Path] = {}
    clashes = []
    for record in records:
        key = crop_key(record, root).casefold()
        if key in seen:
            clashes.append(f"{seen[key]} and {record.path}")
        seen.setdefault(key, record.path)
    if clashes:
        more = f" (and {len(clashes) - 3} more)" if len(clashes) > 3 else ""
        raise DatasetError(
            f"these photos would share one crop name; rename one of each: {'; '.join(clashes[:3])}{more}"
        )


def prepare_dataset(
    config: PrepareConfig,
    out_dir: Path,
    on_progress: Callable[[FaceRecord, str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    records: Sequence[FaceRecord] | None = None,
) -> PrepareReport:
    """Prepare (or resume preparing) `config`'s dataset into `out_dir`; returns what happened.

    `on_progress(record, status)` is called once per photo, status 'prepared', 'reused' or
    'skipped'. `records` restricts the run to a subset (tests); the split still covers every
    identity of the full dataset so it does not depend on which photos were processed.
    """
    started = time.perf_counter()
    root = Path(config.data_root)
    all_records = scan_dataset(config.dataset, root, config.allow_outside_root)
    todo = list(records) if records is not None else all_records
    check_crop_keys(all_records, root)
    splits = split_by_identity(
        all_records,
        test_fraction=config.test_fraction,
        seed=config.seed,
        test_ids=list(config.test_ids) if config.test_ids else None,
        val_fraction=config.val_fraction,
    )
    out_dir = Path(out_dir)
    (out_dir / "crops").mkdir(parents=True, exist_ok=True)
    previous = _load_previous(out_dir, config)

    report = PrepareReport(total=len(todo))
    if on_start:
        on_start(len(todo))
    items: dict[str, dict] = {}
    skipped: dict[str, dict] = {}
    index_path = out_dir / INDEX_NAME

    def save(finished: bool) -> None:
        # Until the run finishes, entries of an earlier run not yet revisited are kept, so an
        # interrupted resume loses nothing; a finished run drops photos no longer in the dataset.
        kept = {} if finished else {k: v for k, v in previous.items() if k not in items and k not in skipped}
        kept_items = {k: v for k, v in kept.items() if "reason" not in v}
        kept_skipped = {k: v for k, v in kept.items() if "reason" in v}
        all_skipped = {**kept_skipped, **skipped}
        atomic_write_json(index_path, index_document(config, splits, {**kept_items, **items}, all_skipped))
        _write_skipped_csv(out_dir / SKIPPED_NAME, [all_skipped[k] for k in sorted(all_skipped)])

    last_save, finished = time.monotonic(), False
    # try/finally: an interruption (Ctrl-C, a crash) still records the photos done so far
    try:
        with FaceDetector(max_faces=4) as detector:
            for record in todo:
                key = crop_key(record, root)
                signature = source_signature(record.path) if record.path.exists() else None
                old = previous.get(key)
                reused = old is not None and old.get("signature") == signature and _crop_intact(out_dir, old)
                entry = dict(old) if reused else _prepare_one(record, key, signature, config, detector, out_dir)
                entry.update(_labels(record))  # labels may have been corrected since (e.g. a folder CSV)
                if "reason" in entry:
                    skipped[key] = entry
                    status = "skipped"
                else:
                    entry["split"] = splits[record.identity]
                    items[key] = entry
                    status = "reused" if reused else "prepared"
                    report.reused += reused
                    report.prepared += not reused
                if on_progress:
                    on_progress(record, status)
                if time.monotonic() - last_save > SAVE_EVERY_SECONDS:
                    save(finished=False)
                    last_save = time.monotonic()
        finished = True
    finally:
        save(finished=finished)
    report.skipped = list(skipped.values())
    report.seconds = time.perf_counter() - started
    return report


def prepare_if_missing(folder: Path, config: PrepareConfig, on_prepare: Callable[[], None] | None = None) -> bool:
    """Prepare `config`'s dataset into `folder` unless it holds prepared data already; True if it prepared.

    `lgan train` and `lgan eval` both prepare through here, each with the identity split its
    model is (or was) trained with, so whichever runs first writes the split the other expects.
    `on_prepare` is called just before preparing (for a message: it takes a while).
    """
    folder = Path(folder)
    if (folder / INDEX_NAME).exists():
        return False
    if not config.data_root:
        raise LganError(f"{folder} holds no prepared data; give --data-root to prepare {config.dataset} from")
    if on_prepare:
        on_prepare()
    prepare_dataset(config, folder)
    return True


def _prepare_one(
    record: FaceRecord, key: str, signature: dict | None, config: PrepareConfig, detector: FaceDetector, out_dir: Path
) -> dict:
    """Detect, align and crop one photo; a dict with a 'reason' when it has to be skipped."""
    base = {"key": key, "source": str(record.path), "signature": signature, **_labels(record)}
    try:
        rgb = load_image(record.path)
    except LganError as exc:
        return {**base, "reason": str(exc)}
    faces = detector.detect(rgb)
    if not faces:
        return {**base, "reason": "no face found"}
    if len(faces) > 1:
        return {**base, "reason": f"{len(faces)} faces found; a dataset photo must show one person"}
    face = faces[0]
    alignment = align_face(face.points68, config.resolution, zoom=config.zoom)
    crop_name = f"crops/{key}.png"
    save_image(alignment.crop(rgb), out_dir / crop_name)
    return {
        **base,
        "crop": crop_name,
        "points68": np.round(alignment.to_crop(face.points68), 3).tolist(),
        "alignment": alignment.to_json(),
        "source_size": [rgb.shape[1], rgb.shape[0]],
        "blendshapes": {k: round(v, 4) for k, v in face.blendshapes.items()},
    }


def _write_skipped_csv(path: Path, entries: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["source", "identity", "expression", "reason"])
    writer.writerows([e["source"], e["identity"], e["expression"], e["reason"]] for e in entries)
    atomic_write_text(path, buffer.getvalue())


def _labels(record: FaceRecord) -> dict:
    return {
        "identity": record.identity,
        "expression": record.expression,
        "intensity": record.intensity,
        "attrs": record.attrs_dict,
    }


def _crop_intact(out_dir: Path, entry: dict) -> bool:
    return "reason" in entry or (out_dir / entry["crop"]).is_file()


def index_document(config, splits: dict, items: dict, skipped: dict) -> dict:
    """The index.json document of a prepared folder; `config` is a dataclass (a PrepareConfig,
    or `lgan synth`'s SynthConfig, which writes the same format)."""
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "config": asdict(config),
        "landmarks": "68 iBUG points in crop pixels (pixel centres at integers)",
        "splits": dict(sorted(splits.items())),
        "items": [items[k] for k in sorted(items)],
        "skipped": [skipped[k] for k in sorted(skipped)],
    }


def _load_previous(out_dir: Path, config: PrepareConfig) -> dict[str, dict]:
    """Entries of an earlier run into the same folder, after checking it used the same settings."""
    index_path = out_dir / INDEX_NAME
    if not index_path.exists():
        return {}
    document = read_index(out_dir)
    try:
        old_config = PrepareConfig(**{**document["config"], "test_ids": None})
    except TypeError:  # another kind of index (e.g. `lgan synth`'s)
        raise DatasetError(
            f"{out_dir} holds data prepared another way ({shown(document['config'].get('dataset'))}); "
            "use another --out folder"
        ) from None
    if old_config.content_key() != config.content_key():
        raise DatasetError(
            f"{out_dir} holds data prepared with {old_config.content_key()}, not {config.content_key()}; "
            "use another --out folder"
        )
    return {entry["key"]: entry for entry in document["items"] + document["skipped"]}


MIN_SIZE, MAX_SIZE = 16, 4096  # crop sizes an index may claim (`lgan prepare` makes 64..512)
MAX_INDEX_BYTES = 1 << 30  # 1 GiB: about 300,000 photos' points and labels


def read_index(prepared_dir: Path) -> dict:
    """The parsed index of a prepared dataset, with a clear error when it is missing, foreign
    or damaged (checked entry by entry, so later code can trust its types and paths)."""
    index_path = Path(prepared_dir) / INDEX_NAME
    if not index_path.is_file():
        raise DatasetError(f"{prepared_dir} is not a prepared dataset (no {INDEX_NAME}); run `lgan prepare` first")
    try:
        document = read_json_object(index_path, "an lgan prepared-dataset index", MAX_INDEX_BYTES)
    except DatasetError:
        raise
    except LganError as exc:
        raise DatasetError(str(exc)) from None
    if document.get("format") != FORMAT or document.get("version") != FORMAT_VERSION:
        raise DatasetError(f"{index_path} is not an lgan prepared-dataset index (version {FORMAT_VERSION})")
    problem = _index_problem(document)
    if problem:
        raise DatasetError(f"{index_path} is damaged: {problem}")
    return document


def _index_problem(document: dict) -> str | None:
    """What is wrong with an index's structure, or None."""
    config = document.get("config")
    resolution = config.get("resolution") if isinstance(config, dict) else None
    if not isinstance(resolution, int) or isinstance(resolution, bool) or not MIN_SIZE <= resolution <= MAX_SIZE:
        return f"its config needs a crop resolution in {MIN_SIZE}..{MAX_SIZE}"
    for part in ("items", "skipped"):
        if not isinstance(document.get(part), list) or not all(
            isinstance(e, dict) and isinstance(e.get("key"), str) for e in document[part]
        ):
            return f"{part!r} must be a list of entries with a key"
    for number, entry in enumerate(document["items"]):
        problem = _item_problem(entry)
        if problem:
            return f"item {number} ({shown(entry['key'])}): {problem}"
    return None


def _item_problem(entry: dict) -> str | None:
    crop = entry.get("crop")
    if not isinstance(crop, str) or not crop or Path(crop).is_absolute() or ".." in Path(crop).parts:
        return "its crop must be a path inside the prepared folder"
    for name in ("identity", "split", "expression"):
        if not isinstance(entry.get(name), str) or not entry[name]:
            return f"no {name}"
    if not is_safe_name(entry["expression"]):
        return f"expression {shown(entry['expression'])} is not a usable name ({SAFE_NAME_RULE})"
    intensity = entry.get("intensity")
    if intensity is not None and (
        not isinstance(intensity, int) or isinstance(intensity, bool) or not 0 <= intensity <= 16
    ):
        return "intensity must be a level 0..16 or null"
    points = entry.get("points68")
    if not (
        isinstance(points, list)
        and len(points) == 68
        and all(
            isinstance(p, list)
            and len(p) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p)
            for p in points
        )
    ):
        return "points68 must be 68 [x, y] pairs of numbers"
    for name in ("attrs", "blendshapes"):
        if not isinstance(entry.get(name, {}), dict):
            return f"{name} must be an object"
    return None
