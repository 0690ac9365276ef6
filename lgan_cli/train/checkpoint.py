"""Training checkpoints: the run's weights and its training state, published as one pair.

- `config.json` + `model.safetensors`: the inference checkpoint (`lgan_cli.models.checkpoint`),
  what `lgan edit` / `lgan eval` load from a run folder.
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

from lgan_cli.errors import LganError
from lgan_cli.fileio import publish_together, remove_temp_files
from lgan_cli.model_files import CONFIG_NAME, WEIGHTS_NAME
from lgan_cli.models.checkpoint import weights_bytes, write_config
from lgan_cli.models.generators import LandmarkGAN

STATE_NAME = "training_state.pt"
CHECKPOINT_KEY = "checkpoint"  # the id shared by a training checkpoint's weights and state


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
    weights = weights_bytes(model, metadata={CHECKPOINT_KEY: pair})
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
        raise LganError(
            f"{path} is not a training state lgan can load safely (damaged or foreign file: {type(exc).__name__})"
        ) from None
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
