"""`lgan animate`: an intensity sweep 0 -> 1 -> 0 of one edit (an expression, an AU mix or both), as a GIF or MP4."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.markup import escape
from rich.progress import Progress

from lgan_cli.cli.common import (
    DeviceOption,
    FaceOption,
    ForceOption,
    ModelOption,
    MouthOption,
    OfflineOption,
    PointsOption,
    ShadingOption,
    check_output_path,
    command,
    console,
    load_photo_editor,
    parse_face_choice,
    with_model_options,
)
from lgan_cli.errors import LganError
from lgan_cli.names import check_expression_name

MAX_SIDE = 720  # animation frames are scaled down to this (a GIF of full-size photos would be huge)


@command(
    epilog=(
        "Examples:\n\n"
        "  lgan animate examples/london_001_neutral.jpg --expr happy --out smile.gif\n\n"
        "  lgan animate face.jpg --expr surprised --out surprise.mp4 --frames 24 --fps 12\n\n"
        "  lgan animate face.jpg --au 26=1,1=0.6 --out jaw.gif"
    )
)
def animate(
    image: Annotated[Path, typer.Argument(help="Photo to animate.", show_default=False)],
    out: Annotated[Path, typer.Option(help="Output .gif or .mp4.", show_default=False)],
    expr: Annotated[
        Optional[str], typer.Option("--expr", help=escape("Target expression [neutral with --au]."), show_default=False)
    ] = None,
    au: Annotated[
        Optional[str],
        typer.Option(
            "--au",
            help="FACS action units with weights 0..1, e.g. 26=1,1=0.6 (added to --expr, swept with it).",
            show_default=False,
        ),
    ] = None,
    frames: Annotated[int, typer.Option(min=2, help="Frames from intensity 0 to 1 (the way back reuses them).")] = 12,
    fps: Annotated[float, typer.Option(min=1, help="Frames per second.")] = 12.0,
    model: ModelOption = None,
    face: FaceOption = "largest",
    size: Annotated[int, typer.Option(min=64, help="Longest side of the frames in pixels.")] = MAX_SIDE,
    device: DeviceOption = "auto",
    mouth: MouthOption = None,
    points: PointsOption = None,
    shading: ShadingOption = None,
    offline: OfflineOption = False,
    force: ForceOption = False,
) -> None:
    """Sweep the edit's intensity 0 -> 1 -> 0 (one detection and alignment for all frames)."""
    from lgan_cli.cli.edit import action_unit_editor, parse_aus
    from lgan_cli.device import resolve_device
    from lgan_cli.editing import check_expressions, compose, edit_crops, find_faces
    from lgan_cli.faces.decode import load_image
    from lgan_cli.faces.detect import FaceDetector

    if out.suffix.lower() not in (".gif", ".mp4"):
        raise LganError(f"--out must end in .gif or .mp4, not {out.suffix or 'nothing'}")
    aus = parse_aus(au)
    if expr is None and aus is None:
        raise LganError("give --expr (a target expression) or --au (action units, e.g. 26=1,1=0.6)")
    expr = expr or "neutral"
    check_expression_name(expr, "--expr")
    check_output_path(out, [image], force)
    which = parse_face_choice(face)
    torch_device = resolve_device(device)
    editor = load_photo_editor(model, torch_device, offline=offline, expressions=[expr], action_units=aus is not None)
    if aus is not None:
        editor = action_unit_editor(editor, aus)
    editor = with_model_options(editor, mouth, points, shading)
    check_expressions(editor, [expr])
    rgb = load_image(image)
    with FaceDetector() as detector:
        faces = find_faces(detector, rgb, editor.resolution, which, str(image))

    fractions = sweep(frames)
    pictures: dict[float, np.ndarray] = {}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("rendering", total=len(set(fractions)))
        for fraction in sorted(set(fractions)):
            if fraction == 0.0:
                pictures[fraction] = rgb  # intensity 0: the photo itself
            else:
                edits = edit_crops(editor, [(f, expr, fraction) for f in faces], torch_device)
                pictures[fraction] = compose(rgb, edits)
            progress.update(task, advance=1)
    write_animation([shrink(pictures[f], size) for f in fractions], out, fps)
    console.print(f"wrote {out} ({len(fractions)} frames, {len(fractions) / fps:.1f} s)")


def sweep(frames: int) -> list[float]:
    """0 -> 1 -> 0 with `frames` steps up; the end points are not repeated, so it loops smoothly."""
    up = [round(i / (frames - 1), 4) for i in range(frames)]
    return up + up[-2:0:-1]


def shrink(picture: np.ndarray, longest: int) -> np.ndarray:
    import cv2

    scale = longest / max(picture.shape[:2])
    if scale >= 1:
        return picture
    size = (max(2, round(picture.shape[1] * scale) // 2 * 2), max(2, round(picture.shape[0] * scale) // 2 * 2))
    return cv2.resize(picture, size, interpolation=cv2.INTER_AREA)


def write_animation(frames: list[np.ndarray], out: Path, fps: float) -> None:
    """GIF through Pillow, MP4 through OpenCV; written to a temporary name, then renamed."""
    import os
    import tempfile

    fd, temp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=out.suffix)
    os.close(fd)
    temp = Path(temp_name)
    try:
        if out.suffix.lower() == ".gif":
            from PIL import Image

            pictures = [Image.fromarray(frame) for frame in frames]
            pictures[0].save(temp, save_all=True, append_images=pictures[1:], duration=round(1000 / fps), loop=0)
        else:
            import cv2

            height, width = frames[0].shape[:2]
            writer = cv2.VideoWriter(str(temp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
            if not writer.isOpened():
                raise LganError("this OpenCV build cannot write MP4; use a .gif output")
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            writer.release()
        os.chmod(temp, 0o644)
        temp.replace(out)
    finally:
        temp.unlink(missing_ok=True)
