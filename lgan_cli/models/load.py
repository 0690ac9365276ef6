"""Turning a --model argument into an Editor."""

from __future__ import annotations

import torch

from lgan_cli.models.config import MOUTH_INTERIORS, SHADINGS, TARGET_POINTS
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


def with_inference_settings(
    editor: Editor, mouth_interior: str | None = None, target_points: str | None = None, shading: str | None = None
) -> Editor:
    """The same LandmarkGAN model with its inference settings overridden (None keeps the model's):
    how a warp model fills parted lips (config.MOUTH_INTERIORS, `--mouth`), how G_l's points
    reach stage II (config.TARGET_POINTS, `--points`) and whether a warp model shades the moved
    skin (config.SHADINGS, `--shading`). Other editors have no such settings."""
    if mouth_interior is None and target_points is None and shading is None:
        return editor
    if mouth_interior is not None and mouth_interior not in MOUTH_INTERIORS:
        raise ValueError(f"--mouth must be one of {', '.join(MOUTH_INTERIORS)}, got {mouth_interior!r}")
    if shading is not None and shading not in SHADINGS:
        raise ValueError(f"--shading must be one of {', '.join(SHADINGS)}, got {shading!r}")
    if target_points is not None and target_points not in TARGET_POINTS:
        raise ValueError(f"--points must be one of {', '.join(TARGET_POINTS)}, got {target_points!r}")
    is_gan = isinstance(editor, LandmarkGANEditor)
    if mouth_interior is not None and not (is_gan and editor.model.config.renderer == "warp"):
        raise ValueError(f"--mouth needs a warp model (e.g. the default): model '{editor.name}' has no mouth setting")
    if shading is not None and not (is_gan and editor.model.config.renderer == "warp"):
        raise ValueError(f"--shading needs a warp model (e.g. the default): model '{editor.name}' has no skin shading")
    if not is_gan:
        raise ValueError(f"--points needs a LandmarkGAN model (e.g. the default): model '{editor.name}' has no G_l")
    if target_points == "anchored" and "neutral" not in editor.expressions:
        raise ValueError(f"--points anchored needs a model that knows 'neutral': model '{editor.name}' does not")
    return LandmarkGANEditor(
        editor.model,
        editor.name,
        aus=editor.aus,
        settings=editor.settings,
        mouth_interior=mouth_interior or editor.mouth_interior,
        target_points=target_points or editor.target_points,
        shading=shading or editor.shading,
    )


BLINK = "45"


def with_action_units(editor: Editor, aus: dict) -> Editor:
    """The editor that adds the AU mix `aus` to every request: the geometry editor, or a learned
    model whose stage II moves the photo's pixels (the 3D model's AU motion joins G_l's points).

    A blink (AU 45) is refused: closing an eye hides what a warp would have to move, and neither
    renderer draws a lid. A re-rendering U-Net was never shown points off its labels."""
    closing = [key for key in aus if str(key).lstrip("LR") == BLINK and aus[key] > 0]
    if closing:
        raise ValueError(
            "--au 45 (blink) is not available: closing an eye hides what a warp would have to move, and no "
            "bundled renderer draws an eyelid"
        )
    if isinstance(editor, GeometryEditor):
        return GeometryEditor(aus=aus)
    if isinstance(editor, LandmarkGANEditor) and editor.model.config.renderer == "warp":
        return LandmarkGANEditor(editor.model, editor.name, aus=aus, settings=editor.settings)
    raise ValueError(
        f"--au needs a warp model (e.g. the default) or --model geometry: model '{editor.name}' re-renders the face "
        "from expression labels and was never shown other motions"
    )
