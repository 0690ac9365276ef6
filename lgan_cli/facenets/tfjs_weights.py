"""Loading face-api's TF.js weights from our safetensors files, dequantised exactly as TF.js does.

`scripts/convert_faceapi.py` stores each uint8-quantised TF.js tensor as `NAME.q` (uint8)
with `NAME.scale` and `NAME.min` (float64 scalars, the manifest's numbers), and unquantised
tensors as float32 `NAME`. TF.js computes `q * scale + min` in float64 (JavaScript numbers)
and stores the result as float32; we do the same, so the weights equal face-api's bit for bit.
Tensors keep TF.js names ("conv32_1/conv1/conv/filters") and layouts (conv filters HWIO);
the nets translate layouts when they take the weights.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import load_file

from lgan_cli.assets import local_file
from lgan_cli.errors import LganError

FETCH_HINT = "python scripts/convert_faceapi.py"


def dequantise(stored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """TF.js name -> float32 tensor, from the stored uint8 + scale/min (or float32) form."""
    out: dict[str, torch.Tensor] = {}
    for key, tensor in stored.items():
        if key.endswith((".scale", ".min")):
            continue
        if key.endswith(".q"):
            name = key[: -len(".q")]
            scale, minimum = stored[f"{name}.scale"], stored[f"{name}.min"]
            if tensor.dtype != torch.uint8 or scale.dtype != torch.float64 or minimum.dtype != torch.float64:
                raise LganError(f"{name}: expected uint8 values with float64 scale/min")
            # two separately rounded float64 operations, like JavaScript's q * scale + min
            out[name] = (tensor.to(torch.float64) * scale + minimum).to(torch.float32)
        else:
            out[key] = tensor.to(torch.float32)
    return out


def tfjs_weights_path(name: str, sha256: str) -> Path:
    """The converted file in LGAN_WEIGHTS_DIR (or the repository's weights/), sha256-checked."""
    return local_file(name, sha256, FETCH_HINT)


def load_tfjs_weights(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read one converted face-api net (on the CPU) and dequantise it."""
    return dequantise(load_file(str(path), device="cpu"))


class TfjsParams:
    """Hands out TF.js tensors by name and checks at the end that every tensor was used."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        self._tensors = dict(tensors)
        self._used: set[str] = set()

    def take(self, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        if name not in self._tensors:
            raise LganError(f"face-api weights lack {name}")
        tensor = self._tensors[name]
        if tuple(tensor.shape) != shape:
            raise LganError(f"face-api weight {name} has shape {tuple(tensor.shape)}, expected {shape}")
        self._used.add(name)
        return tensor

    def check_all_used(self) -> None:
        unused = sorted(set(self._tensors) - self._used)
        if unused:
            raise LganError(f"face-api weights hold tensors this net does not use: {unused[:5]}")


def load_frozen(net, name: str, sha256: str, path, device):
    """Fill a face-api net from its converted file (given `path` or the sha256-checked bundled one),
    freeze it and move it to `device` in eval mode: what both face-api loaders do."""
    net.load_tfjs(load_tfjs_weights(path if path is not None else tfjs_weights_path(name, sha256)))
    net.requires_grad_(False)
    return net.to(device).eval()
