"""`lgan edit`: change the expression of the face(s) in one photo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.markup import escape

from lgan_cli.cli.common import (
    DeviceOption,
    FaceOption,
    ForceOption,
    IntensityOption,
    ModelOption,
    MouthOption,
    OfflineOption,
    PointsOption,
    ShadingOption,
    check_output_paths,
    command,
    console,
    load_photo_editor,
    parse_face_choice,
    with_model_options,
)
from lgan_cli.errors import LganError
from lgan_cli.faces.decode import IMAGE_SUFFIXES
from lgan_cli.fileio import atomic_write_text
from lgan_cli.names import check_expression_name

COMPARE_HEIGHT = 512


@command(
    epilog=(
        "Examples:\n\n"
        "  lgan edit examples/london_001_neutral.jpg --expr happy\n\n"
        "  lgan edit face.jpg --expr happy --intensity 3 --compare\n\n"
        "  lgan edit group.jpg --expr happy --intensity 0.5 --face all --out group_smiling.jpg\n\n"
        "  lgan edit face.jpg --expr neutral --model hf:owner/repo@v1 --offline\n\n"
        "  lgan edit face.jpg --model geometry --expr surprised --intensity 3\n\n"
        "  lgan edit face.jpg --model geometry --au 12=1,6=1 --out smile.jpg"
    )
)
def edit(
    image: Annotated[Path, typer.Argument(help="Photo to edit (never modified).", show_default=False)],
    expr: Annotated[
        Optional[str],
        typer.Option(
            "--expr",
            help=escape("Target expression (one the model knows, e.g. happy) [neutral with --au]."),
            show_default=False,
        ),
    ] = None,
    au: Annotated[
        Optional[str],
        typer.Option(
            "--au",
            help="FACS action units with weights 0..1, e.g. 12=0.8,6=0.5 (added to --expr); "
            "a warp model or --model geometry.",
            show_default=False,
        ),
    ] = None,
    intensity: IntensityOption = None,
    model: ModelOption = None,
    out: Annotated[
        Optional[Path], typer.Option(help="Output file [IMAGE_<expr>.<ext> beside the input].", show_default=False)
    ] = None,
    device: DeviceOption = "auto",
    face: FaceOption = "largest",
    compare: Annotated[
        bool, typer.Option("--compare", help="Also write input | generated landmarks | output side by side.")
    ] = False,
    save_landmarks: Annotated[
        Optional[Path],
        typer.Option(help="Write the generated 68 landmarks (photo pixels) as JSON.", show_default=False),
    ] = None,
    mouth: MouthOption = None,
    points: PointsOption = None,
    shading: ShadingOption = None,
    offline: OfflineOption = False,
    force: ForceOption = False,
) -> None:
    """Give the face in a photo another expression: generated landmarks (stage I), then the face
    (stage II), pasted back into the original photo at full resolution.
    """
    from lgan_cli.device import resolve_device
    from lgan_cli.editing import check_expressions, compose, edit_crops, find_faces, intensity_label, parse_intensity
    from lgan_cli.faces.decode import load_image, save_image
    from lgan_cli.faces.detect import FaceDetector

    which = parse_face_choice(face)
    level = parse_intensity(intensity)
    aus = parse_aus(au)
    if expr is None and aus is None:
        raise LganError("give --expr (a target expression) or --au (action units, e.g. 12=0.8,6=0.5)")
    expr = expr or "neutral"
    check_expression_name(expr, "--expr")
    output = out or default_output(image, expr, "_".join(t for t in (intensity_label(level), au_label(aus)) if t))
    if output.suffix.lower() not in IMAGE_SUFFIXES and not output.is_dir():
        output = output.with_suffix(".png")
    outputs = [output, *([compare_path(output)] if compare else []), *([save_landmarks] if save_landmarks else [])]
    check_output_paths(outputs, [image], force)

    torch_device = resolve_device(device)
    editor = load_photo_editor(model, torch_device, offline=offline, expressions=[expr], action_units=aus is not None)
    if aus is not None:
        editor = action_unit_editor(editor, aus)
    editor = with_model_options(editor, mouth, points, shading)
    check_expressions(editor, [expr])
    rgb = load_image(image)
    with FaceDetector() as detector:
        faces = find_faces(detector, rgb, editor.resolution, which, str(image))
    edits = edit_crops(editor, [(f, expr, level) for f in faces], torch_device)
    result = compose(rgb, edits)
    save_image(result, output, like=image)
    console.print(f"wrote {output} ({len(edits)} face{'s' if len(edits) != 1 else ''}, {expr}, model {editor.name})")
    if compare:
        save_image(compare_strip(rgb, edits[0].landmark_image(), result), compare_path(output))
        console.print(f"wrote {compare_path(output)}")
    if save_landmarks:
        document = {
            "image": str(image),
            "expression": expr,
            "intensity": level,
            "coordinates": "pixels of the input photo, origin at the top-left pixel's centre",
            "faces": [{"points68": np.round(e.points_in_photo(), 2).tolist()} for e in edits],
        }
        atomic_write_text(save_landmarks, json.dumps(document, indent=1) + "\n")
        console.print(f"wrote {save_landmarks}")


def default_output(image: Path, expression: str, tag: str) -> Path:
    suffix = image.suffix if image.suffix.lower() in IMAGE_SUFFIXES else ".png"
    return image.with_name(f"{image.stem}_{expression}{'_' + tag if tag else ''}{suffix}")


def compare_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}_compare.png")


def compare_strip(photo: np.ndarray, landmark_image: np.ndarray, result: np.ndarray) -> np.ndarray:
    """input | generated landmark image | output, each scaled to the same height."""
    import cv2

    def fit(picture: np.ndarray) -> np.ndarray:
        scale = COMPARE_HEIGHT / picture.shape[0]
        width = max(1, round(picture.shape[1] * scale))
        return cv2.resize(
            picture, (width, COMPARE_HEIGHT), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        )

    gap = np.full((COMPARE_HEIGHT, 8, 3), 255, dtype=np.uint8)
    return np.ascontiguousarray(np.hstack([fit(photo), gap, fit(landmark_image), gap, fit(result)]))


def parse_aus(text: str | None) -> dict | None:
    """The --au mix ({12: 0.8, 6: 0.5}), or None without --au; a bad spec is one error line."""
    if text is None:
        return None
    from lgan_cli.geometry.aus import parse_au_spec

    try:
        return parse_au_spec(text)
    except ValueError as exc:
        raise LganError(f"--au: {exc}") from None


def action_unit_editor(editor, aus: dict):
    """The editor that adds --au's mix, or a one-line error saying which models can."""
    from lgan_cli.models.load import with_action_units

    try:
        return with_action_units(editor, aus)
    except ValueError as exc:
        raise LganError(str(exc)) from None


def au_label(aus: dict | None) -> str:
    """A file-name tag for an AU mix: 'au12-0.8_6-0.5' ('' without one)."""
    if not aus:
        return ""
    return "au" + "_".join(f"{key}-{weight:g}" for key, weight in aus.items())
