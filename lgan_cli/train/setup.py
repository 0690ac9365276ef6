"""Assembling a training run: config from file + flags, prepared data, run folder, trainer."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from lgan_cli.data.prepare import INDEX_NAME, PrepareConfig, prepare_dataset
from lgan_cli.data.prepared import PreparedDataset
from lgan_cli.data.records import RAFD_EXPRESSIONS
from lgan_cli.errors import DatasetError, LganError
from lgan_cli.fileio import read_json_object
from lgan_cli.models.config import with_legacy_renderer
from lgan_cli.model_files import CONFIG_NAME
from lgan_cli.train.checkpoint import STATE_NAME
from lgan_cli.train.config import RunConfig

DATASET_LICENCES = {
    "london": "CC BY 4.0: DeBruine, L., & Jones, B. (2017). Face Research Lab London Set. "
    "https://doi.org/10.6084/m9.figshare.5047666.v5",
    "rafd": "Radboud Faces Database: research use under its own licence; weights trained on it inherit its terms",
    "jaffe": "JAFFE: non-commercial research use under its own licence; weights trained on it inherit its terms",
    "bu3dfe": "BU-3DFE: research use under its own licence; weights trained on it inherit its terms",
    "ferg": "FERG-DB: research use under its own licence; weights trained on it inherit its terms",
    "folder": "user-supplied data: see its own licence",
    "ict-synth": "MIT: synthetic faces rendered by `lgan synth` from the ICT Face Model Light "
    "(ICT-FaceKit, USC Institute for Creative Technologies, MIT licence)",
}


MAX_CONFIG_BYTES = 1 << 20  # a recipe or a run's config.json is a few kB


def load_config_file(path: Path) -> dict:
    """The run settings of a recipe or of a run's config.json (whose "run" part holds them)."""
    document = read_json_object(path, "a training config", MAX_CONFIG_BYTES)
    return document.get("run", document)


def run_config_from_file(path: Path) -> RunConfig:
    """A RunConfig from a recipe or a run's config.json; a bad one is one line naming the file."""
    return RunConfig.from_json(load_config_file(path), where=str(path))


def ensure_prepared(config: RunConfig) -> PreparedDataset:
    """Load the prepared data, preparing it first if its index does not exist yet."""
    data = config.data
    folder = Path(data.prepared)
    if not (folder / INDEX_NAME).exists():
        if not data.data_root:
            raise LganError(f"{folder} holds no prepared data and no --data-root was given to prepare it from")
        prepare_dataset(
            PrepareConfig(
                dataset=data.dataset, data_root=data.data_root, resolution=config.model.resolution,
                seed=data.seed, test_fraction=data.test_fraction, val_fraction=data.val_fraction,
                test_ids=data.test_ids,
            ),
            folder,
        )
    try:
        dataset = PreparedDataset.load(folder, resolution=config.model.resolution)
    except DatasetError as exc:
        raise LganError(f"{exc}; or choose --resolution") from None
    return dataset


def with_dataset_labels(config: RunConfig, dataset: PreparedDataset) -> RunConfig:
    """Fill in the expressions (canonical order) and intensity levels the training data uses."""
    names = {item.expression for item in dataset.items}
    ordered = tuple(n for n in RAFD_EXPRESSIONS if n in names) + tuple(sorted(names - set(RAFD_EXPRESSIONS)))
    levels = max((item.intensity or 0 for item in dataset.items), default=0)
    return replace(config, model=replace(config.model, expressions=ordered, intensity_levels=levels))


def validation_split(dataset: PreparedDataset) -> str | None:
    splits = {item.split for item in dataset.items}
    return "val" if "val" in splits else "test" if "test" in splits else None


def run_info(config: RunConfig) -> dict:
    """What goes into config.json beside the model settings: the whole run and the data's terms."""
    return {
        "run": config.to_json(),
        "training_data": {
            "dataset": config.data.dataset,
            "licence": DATASET_LICENCES.get(config.data.dataset, "unknown"),
            "test_ids": list(config.data.test_ids) if config.data.test_ids else None,
        },
    }


def check_resumable(run_dir: Path) -> None:
    """--resume needs the run's training state: without it, a fresh start would overwrite the
    trained weights in the folder, so it is refused (with the way to build on them instead)."""
    if not Path(run_dir).is_dir():
        raise LganError(f"--resume {run_dir}: no such run folder")
    if not (Path(run_dir) / STATE_NAME).is_file():
        raise LganError(
            f"cannot resume {run_dir}: it has no {STATE_NAME} (only a model can be resumed from its training state); "
            f"to train further from its weights, start a new run with --init-from {run_dir}"
        )


def read_run_config(run_dir: Path) -> RunConfig:
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise LganError(f"{run_dir} is not a run folder (no {CONFIG_NAME})")
    document = load_config_file(path)
    if isinstance(document.get("model"), dict):
        document = {**document, "model": with_legacy_renderer(document["model"])}
    return RunConfig.from_json(document, where=str(path))


def pick_device(choice: str, local_rank: int = 0) -> torch.device:
    from lgan_cli.device import resolve_device

    device = resolve_device(choice)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device
