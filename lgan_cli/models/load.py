"""Turning a --model argument into an Editor."""

from __future__ import annotations

from pathlib import Path

import torch

from lgan_cli.errors import LganError
from lgan_cli.models.editor import CopyEditor, Editor, LandmarkGANEditor

BASELINES = {CopyEditor.name: CopyEditor}


def load_editor(spec: str, device: torch.device) -> Editor:
    """A baseline by name ('copy'), or a checkpoint: a run folder, a checkpoint folder or its files."""
    if spec in BASELINES:
        return BASELINES[spec]()
    path = Path(spec).expanduser()
    if path.exists():
        from lgan_cli.train.checkpoint import load_inference

        model, _ = load_inference(path, device)
        return LandmarkGANEditor(model, name=path.name if path.is_dir() else path.parent.name)
    raise LganError(f"unknown model {spec!r}: not a baseline ({', '.join(sorted(BASELINES))}) nor an existing checkpoint path")
