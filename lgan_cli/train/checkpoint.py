"""Checkpoints: inference weights (safetensors + JSON) apart from training state.

- `config.json` + `model.safetensors`: G_l and G_e only, everything inference needs;
  safe to load from anywhere (no pickle). Loading checks config.json against the model
  schema (`lgan_cli.models.schema`) and the weights file's header against the tensors that
  config implies before any tensor is read, so a damaged or hostile checkpoint is one line
  naming the file, never a traceback or a huge allocation.
- `training_state.pt`: discriminators, optimisers, step, RNG states and a copy of the
  generators, for --resume; plain tensors and numbers, loaded with `weights_only=True`.

A training checkpoint is a pair: both files carry the same checkpoint id (the safetensors
metadata, a key of the state), are written to temporary names and then published together,
the training state first. A kill between the two renames leaves a state newer than the
weights, and the state alone can resume (it holds the generators); no kill leaves a
half-written file under a final name. All writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from lgan_cli.errors import LganError
from lgan_cli.fileio import atomic_write_json, atomic_writer, publish_together, read_json_object, remove_temp_files
from lgan_cli.models.config import ModelConfig, with_legacy_renderer
from lgan_cli.models.generators import LandmarkGAN

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
STATE_NAME = "training_state.pt"
CHECKPOINT_FORMAT = "lgan-landmarkgan"
MAX_CONFIG_BYTES = 1 << 20  # a model's config.json is a few kB
CHECKPOINT_KEY = "checkpoint"  # the id shared by a training checkpoint's weights and state
WEIGHT_DTYPES = {torch.float32: ("F32", "F16", "BF16"), torch.int64: ("I64",)}


def save_inference(model: LandmarkGAN, folder: Path, info: dict | None = None, half: bool = False) -> None:
    """Write config.json (+ `info`: training data, licence, metrics) and model.safetensors."""
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_writer(folder / WEIGHTS_NAME) as handle:
        handle.write(_weights_bytes(model, half=half))
    write_config(folder, model.config, info)


def _weights_bytes(model: LandmarkGAN, half: bool = False, checkpoint: str | None = None) -> bytes:
    tensors = {
        key: (value.half() if half and value.is_floating_point() else value).detach().cpu().contiguous()
        for key, value in model.state_dict().items()
    }
    metadata = {"format": CHECKPOINT_FORMAT, **({CHECKPOINT_KEY: checkpoint} if checkpoint else {})}
    return safetensors_bytes(tensors, metadata=metadata)


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
    document = read_json_object(config_path, "an lgan model config", MAX_CONFIG_BYTES)
    if document.get("format") != CHECKPOINT_FORMAT:
        raise LganError(f"{config_path} is not an lgan model config")
    if not isinstance(document.get("model"), dict):
        raise LganError(f"{config_path} has no model settings (its \"model\" object is missing)")
    return config_path.parent, document


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


def checkpoint_id(weights_path: Path) -> str | None:
    """The training-checkpoint id in a weights file's metadata (None: none, or unreadable)."""
    try:
        with safe_open(str(weights_path), framework="pt") as weights:
            return (weights.metadata() or {}).get(CHECKPOINT_KEY)
    except Exception:  # noqa: BLE001 - an unreadable file pairs with nothing
        return None


def save_training_checkpoint(model: LandmarkGAN, folder: Path, state: dict, info: dict) -> str:
    """Publish the weights and the training state as one consistent pair; returns its id.

    Both are written in full to temporary names first, then renamed: the state (which also
    holds the generators) before the weights, so at every moment the state on disk can resume
    the run. config.json follows; stale temporary files of killed saves are removed.
    """
    pair = f"{state['step']}-{state.get('warmup_step', 0)}-{secrets.token_hex(4)}"
    generators = {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}
    full_state = {**state, CHECKPOINT_KEY: pair, "generators": generators}
    weights = _weights_bytes(model, checkpoint=pair)
    publish_together(
        [
            (folder / STATE_NAME, lambda handle: torch.save(full_state, handle)),
            (folder / WEIGHTS_NAME, lambda handle: handle.write(weights)),
        ]
    )
    write_config(folder, model.config, info)
    remove_stale_temp_files(folder)
    return pair


def remove_stale_temp_files(folder: Path) -> None:
    """Temporary files a killed save left in a run folder (the live process has none open here)."""
    remove_temp_files(folder, (WEIGHTS_NAME, STATE_NAME, CONFIG_NAME, "stats.jsonl"))
    (folder / f".{WEIGHTS_NAME}.tmp").unlink(missing_ok=True)  # the fixed name older versions used


def load_training_state(path: Path) -> dict:
    """The training state for --resume, refused in one line when it is missing, foreign or damaged.

    The loader's own message is not shown: for a file it refuses it advises loading with
    weights_only=False, which would run code from the file.
    """
    if not path.is_file():
        raise LganError(f"{path} not found: the run has no training state to resume from")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle, zip and torch errors of every kind
        raise LganError(f"{path} is not a training state lgan can load safely (damaged or foreign file: {type(exc).__name__})") from None
    _check_state(path, state)
    return state


STATE_COUNTERS = ("step", "epoch", "position")
STATE_PARTS = ("discriminators", "opt_g", "opt_dl", "opt_de", "scaler_g", "scaler_d")


def _check_state(path: Path, state: object) -> None:
    if not isinstance(state, dict):
        raise LganError(f"{path} is not an lgan training state (it holds {type(state).__name__})")
    for key in STATE_COUNTERS:
        value = state.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise LganError(f"{path} is not an lgan training state ({key!r} is missing or not a count)")
    for key in STATE_PARTS:
        if not isinstance(state.get(key), dict):
            raise LganError(f"{path} is not an lgan training state ({key!r} is missing)")
    if not isinstance(state.get("torch_rng"), torch.Tensor) or state["torch_rng"].dtype != torch.uint8:
        raise LganError(f"{path} is not an lgan training state (no RNG state)")
