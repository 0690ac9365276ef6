"""Inference checkpoints: the generators as safetensors + JSON, written and loaded.

`config.json` + `model.safetensors` (file names and the config reader:
`lgan_cli.model_files`) hold G_l and G_e only, everything inference needs; safe to load
from anywhere (no pickle). Loading checks config.json against the model schema
(`lgan_cli.models.schema`) and the weights file's header against the tensors that config
implies before any tensor is read, so a damaged or hostile checkpoint is one line naming the
file, never a traceback or a huge allocation. All writes are atomic (temporary file, then
rename). A training run's own state is `lgan_cli.train.checkpoint`'s.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from lgan_cli.errors import LganError
from lgan_cli.fileio import atomic_write_json, atomic_writer
from lgan_cli.model_files import CHECKPOINT_FORMAT, CONFIG_NAME, WEIGHTS_NAME, read_checkpoint_config
from lgan_cli.models.config import ModelConfig, with_legacy_renderer
from lgan_cli.models.generators import LandmarkGAN

WEIGHT_DTYPES = {torch.float32: ("F32", "F16", "BF16"), torch.int64: ("I64",)}


def save_inference(model: LandmarkGAN, folder: Path, info: dict | None = None, half: bool = False) -> None:
    """Write config.json (+ `info`: training data, licence, metrics) and model.safetensors."""
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_writer(folder / WEIGHTS_NAME) as handle:
        handle.write(weights_bytes(model, half=half))
    write_config(folder, model.config, info)


def weights_bytes(model: LandmarkGAN, half: bool = False, metadata: dict[str, str] | None = None) -> bytes:
    """The generators as a safetensors file (float16 with `half`), with `metadata` beside the format tag."""
    tensors = {
        key: (value.half() if half and value.is_floating_point() else value).detach().cpu().contiguous()
        for key, value in model.state_dict().items()
    }
    return safetensors_bytes(tensors, metadata={"format": CHECKPOINT_FORMAT, **(metadata or {})})


def write_config(folder: Path, model_config: ModelConfig, info: dict | None = None) -> None:
    """config.json: the model settings plus `info` (the whole run config, training data, licence, ...)."""
    document = {"format": CHECKPOINT_FORMAT, "version": 1, "model": model_config.to_json(), **(info or {})}
    atomic_write_json(folder / CONFIG_NAME, document)


def load_model_config(path: Path) -> tuple[Path, dict, ModelConfig]:
    """(folder, config document, checked ModelConfig) of a checkpoint; nothing allocated yet."""
    from lgan_cli.models.schema import model_config

    folder, document = read_checkpoint_config(path)
    return folder, document, model_config(with_legacy_renderer(document["model"]), f"{folder / CONFIG_NAME}: model")


def load_inference(path: Path, device: torch.device | str = "cpu") -> tuple[LandmarkGAN, dict]:
    """The generators in eval mode (float32) and the checkpoint's config document."""
    folder, document, config = load_model_config(path)
    state = read_weights(folder / WEIGHTS_NAME, expected_tensors(config))
    model = LandmarkGAN(config)
    model.load_state_dict(state)
    return model.to(device).eval(), document


def expected_tensors(config: ModelConfig) -> dict[str, tuple[torch.Size, torch.dtype]]:
    """Name -> (shape, dtype) of every tensor a checkpoint of `config` holds (meta device: no memory)."""
    with torch.device("meta"):
        model = LandmarkGAN(config)
    return {key: (value.shape, value.dtype) for key, value in model.state_dict().items()}


def read_weights(path: Path, expected: dict[str, tuple[torch.Size, torch.dtype]]) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, as float32 / int64, after checking its header names
    exactly the `expected` tensors with their shapes (so nothing unexpected is ever read)."""
    try:
        with safe_open(str(path), framework="pt") as weights:
            _check_header(path, weights, expected)
            return {key: weights.get_tensor(key).to(expected[key][1]) for key in expected}
    except LganError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error type, OSError, ...
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise LganError(f"{path} is not a readable safetensors file ({reason})") from None


def _check_header(path: Path, weights, expected: dict[str, tuple[torch.Size, torch.dtype]]) -> None:
    names = set(weights.keys())
    missing, unexpected = sorted(set(expected) - names), sorted(names - set(expected))
    if missing or unexpected:
        raise LganError(
            f"{path} does not match its config.json ({len(missing)} tensors missing, e.g. {missing[:2]}; "
            f"{len(unexpected)} unexpected, e.g. {[u[:60] for u in unexpected[:2]]})"
        )
    for key, (shape, dtype) in expected.items():
        found = weights.get_slice(key)
        if tuple(found.get_shape()) != tuple(shape) or found.get_dtype() not in WEIGHT_DTYPES[dtype]:
            raise LganError(
                f"{path}: tensor {key} is {found.get_dtype()} {list(found.get_shape())}, "
                f"its config.json implies {list(shape)} ({'/'.join(WEIGHT_DTYPES[dtype])})"
            )
