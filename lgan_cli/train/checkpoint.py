"""Checkpoints: inference weights (safetensors + JSON) apart from training state.

- `config.json` + `model.safetensors`: G_l and G_e only, everything inference needs;
  safe to load from anywhere (no pickle).
- `training_state.pt`: discriminators, optimisers, step, RNG states, for --resume; plain
  tensors and numbers, loaded with `weights_only=True`.
All writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from lgan_cli.errors import LganError
from lgan_cli.fileio import atomic_write_json, atomic_writer
from lgan_cli.models.config import ModelConfig
from lgan_cli.models.generators import LandmarkGAN

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
STATE_NAME = "training_state.pt"
CHECKPOINT_FORMAT = "lgan-landmarkgan"


def save_inference(model: LandmarkGAN, folder: Path, info: dict | None = None, half: bool = False) -> None:
    """Write config.json (+ `info`: training data, licence, metrics) and model.safetensors."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {
        key: (value.half() if half and value.is_floating_point() else value).detach().cpu().contiguous()
        for key, value in model.state_dict().items()
    }
    weights_tmp = folder / f".{WEIGHTS_NAME}.tmp"
    save_file(tensors, str(weights_tmp), metadata={"format": CHECKPOINT_FORMAT})
    weights_tmp.chmod(0o644)
    weights_tmp.replace(folder / WEIGHTS_NAME)
    write_config(folder, model.config, info)


def write_config(folder: Path, model_config: ModelConfig, info: dict | None = None) -> None:
    """config.json: the model settings plus `info` (the whole run config, training data, licence, ...)."""
    document = {"format": CHECKPOINT_FORMAT, "version": 1, "model": model_config.to_json(), **(info or {})}
    atomic_write_json(folder / CONFIG_NAME, document)


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
    try:
        document = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise LganError(f"cannot read {config_path}: {exc}") from None
    if document.get("format") != CHECKPOINT_FORMAT:
        raise LganError(f"{config_path} is not an lgan model config")
    return config_path.parent, document


def load_inference(path: Path, device: torch.device | str = "cpu") -> tuple[LandmarkGAN, dict]:
    """The generators in eval mode (float32) and the checkpoint's config document."""
    folder, document = read_checkpoint_config(path)
    weights_path = folder / WEIGHTS_NAME
    model = LandmarkGAN(ModelConfig.from_saved_json(document["model"]))
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(weights_path)).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise LganError(f"{weights_path} does not match its config (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.to(device).eval(), document


def save_training_state(path: Path, state: dict) -> None:
    with atomic_writer(path) as handle:
        torch.save(state, handle)


def load_training_state(path: Path) -> dict:
    if not path.is_file():
        raise LganError(f"{path} not found: the run has no training state to resume from")
    return torch.load(path, map_location="cpu", weights_only=True)
