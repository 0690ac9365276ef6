"""`lgan landmarks`: detect faces and print or save their 68 (and 478) points and an overlay."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from lgan_cli.cli.common import ForceOption, check_output_paths, command, console, parse_face_choice
from lgan_cli.faces.decode import load_image, save_image
from lgan_cli.faces.detect import FaceDetector, select_faces
from lgan_cli.faces.overlay import draw_overlay
from lgan_cli.fileio import atomic_write_text

TOP_BLENDSHAPES = 4


@command(
    epilog=(
        "Examples:\n\n"
        "  lgan landmarks examples/london_001_neutral.jpg\n\n"
        "  lgan landmarks photo.jpg --json points.json --overlay overlay.png --face all\n\n"
        "  lgan landmarks photo.jpg --json - | jq '.faces[0].points68'"
    )
)
def landmarks(
    image: Annotated[
        Path,
        typer.Argument(help="Photo to analyse (JPEG, PNG, WebP, ...; EXIF rotation is applied).", show_default=False),
    ],
    json_path: Annotated[
        Optional[Path],
        typer.Option("--json", help="Write the points as JSON to this file ('-' for stdout).", show_default=False),
    ] = None,
    overlay: Annotated[
        Optional[Path],
        typer.Option(
            "--overlay", help="Write a picture with the mesh, 68 points and contours drawn.", show_default=False
        ),
    ] = None,
    face: Annotated[
        str, typer.Option("--face", help="Which faces: largest, all, or a number (0 = largest).")
    ] = "largest",
    mesh: Annotated[
        bool, typer.Option("--mesh/--no-mesh", help="Include the 478-point mesh in JSON and overlay.")
    ] = True,
    force: ForceOption = False,
) -> None:
    """Find faces in a photo and report their 68 iBUG landmarks (and MediaPipe's 478-point mesh)."""
    which = parse_face_choice(face)
    outputs = [p for p in (overlay, json_path) if p is not None and str(p) != "-"]
    check_output_paths(outputs, [image], force)

    rgb = load_image(image)
    with FaceDetector() as detector:
        faces = select_faces(detector.detect(rgb, every_face=which != "largest"), which, source=str(image))

    if json_path is not None:
        document = {
            "image": str(image),
            "width": rgb.shape[1],
            "height": rgb.shape[0],
            "coordinates": "pixels, origin at the top-left pixel's centre, x right, y down",
            "faces": [f.to_json(include_mesh=mesh) for f in faces],
        }
        text = json.dumps(document, indent=1)
        if str(json_path) == "-":
            sys.stdout.write(text + "\n")
        else:
            atomic_write_text(json_path, text + "\n")
            console.print(f"wrote {json_path}")
    if overlay is not None:
        save_image(draw_overlay(rgb, faces, draw_mesh=mesh), overlay)
        console.print(f"wrote {overlay}")
    if json_path is None:
        _print_summary(image, faces, show_points=overlay is None)


def _print_summary(image: Path, faces: list, show_points: bool) -> None:
    for index, found in enumerate(faces):
        x0, y0, x1, y1 = found.box
        top = sorted(found.blendshapes.items(), key=lambda kv: kv[1], reverse=True)
        top = [f"{name} {score:.2f}" for name, score in top if name != "_neutral"][:TOP_BLENDSHAPES]
        console.print(
            f"[bold]{image}[/] face {index}: box ({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f}), "
            f"strongest blendshapes: {', '.join(top)}"
        )
        if show_points:
            table = Table("#", "x", "y", "#", "x", "y", "#", "x", "y", "#", "x", "y", box=None, pad_edge=False)
            rows = [(str(i), f"{x:.1f}", f"{y:.1f}") for i, (x, y) in enumerate(found.points68)]
            for r in range(17):
                table.add_row(*[cell for c in range(4) for cell in rows[c * 17 + r]])
            console.print(table)
