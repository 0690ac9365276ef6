"""The files of an lgan model, without torch: their names and the reader of its config.json.

A model (an inference checkpoint) is a folder holding `config.json` (the model settings, and
what it was trained on under which licence) and `model.safetensors` (the two generators).
Writing and loading the weights is `lgan_cli.models.checkpoint`'s; a training run keeps its
own state beside the two files (`lgan_cli.train.checkpoint`). This module imports no torch,
so the Hub code and `lgan models list` start quickly.
"""

from __future__ import annotations

from pathlib import Path

from lgan_cli.errors import LganError
from lgan_cli.fileio import read_json_object

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
MODEL_FILES = (CONFIG_NAME, WEIGHTS_NAME)
CHECKPOINT_FORMAT = "lgan-landmarkgan"
MAX_CONFIG_BYTES = 1 << 20  # a model's config.json is a few kB


def checkpoint_files(path: Path) -> tuple[Path, Path]:
    """(config.json, model.safetensors) for a run folder, a checkpoint folder or either file."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    config, weights = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    if not config.is_file() or not weights.is_file():
        raise LganError(f"{path} is not an lgan checkpoint (needs {CONFIG_NAME} and {WEIGHTS_NAME})")
    return config, weights


def read_checkpoint_config(path: Path) -> tuple[Path, dict]:
    """(checkpoint folder, parsed config.json) with one-line errors for foreign or broken files."""
    config_path, _ = checkpoint_files(path)
    document = read_json_object(config_path, "an lgan model config", MAX_CONFIG_BYTES)
    if document.get("format") != CHECKPOINT_FORMAT:
        raise LganError(f"{config_path} is not an lgan model config")
    if not isinstance(document.get("model"), dict):
        raise LganError(f'{config_path} has no model settings (its "model" object is missing)')
    return config_path.parent, document
