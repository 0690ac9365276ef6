"""Turning a --model argument into an Editor."""

from __future__ import annotations

import torch

from lgan_cli.models.editor import CopyEditor, Editor, LandmarkGANEditor
from lgan_cli.models.geometry_editor import GeometryEditor

BASELINES = {CopyEditor.name: CopyEditor, GeometryEditor.name: GeometryEditor}


def load_editor(spec: str | None, device: torch.device | str, offline: bool = False) -> Editor:
    """A baseline by name ('copy', 'geometry'), or a LandmarkGAN checkpoint found by `lgan_cli.hub.resolve_model`.

    That covers the default model (None), registry names, local run/checkpoint folders or their
    files, and hf:owner/repo[@revision]. `offline` keeps Hub look-ups to the local cache.
    """
    if spec in BASELINES:
        return BASELINES[spec]()
    from lgan_cli.hub import UnknownModelError, known_names_hint, model_display_name, resolve_model
    from lgan_cli.models.checkpoint import load_inference

    try:
        folder = resolve_model(spec, offline=offline)
    except UnknownModelError:
        baselines = ", ".join(sorted(BASELINES))
        raise UnknownModelError(f"unknown model {spec!r}: baselines are {baselines}; {known_names_hint()}") from None
    model, document = load_inference(folder, device)
    return LandmarkGANEditor(model, name=model_display_name(spec), settings=document)
