"""Choosing the torch device from --device auto|cpu|cuda, never assuming CUDA."""

from __future__ import annotations

import torch

from lgan_cli.errors import LganError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(choice: str = "auto") -> torch.device:
    """'auto' picks CUDA when available, else the CPU; 'cuda' without CUDA is a clear error."""
    choice = choice.lower()
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise LganError("--device cuda was requested but no CUDA device is available; use --device cpu or auto")
        return torch.device(choice)
    raise LganError(f"--device must be one of {', '.join(DEVICE_CHOICES)} (or cuda:N), not {choice!r}")
