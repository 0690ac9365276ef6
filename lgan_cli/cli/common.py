"""Small helpers shared by the commands: the command marker, output-path checks and the shared options."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from lgan_cli.errors import LganError
from lgan_cli.fileio import NAME_MAX, PATH_MAX, unwritable_reason
from lgan_cli.names import shown

console = Console(stderr=True, highlight=False)
"""Progress and messages go to stderr, so stdout stays clean for data (e.g. `--json -`)."""


def command(**settings):
    """Mark a function as an `lgan` command, with Typer's command settings (name, epilog, ...).

    Nothing is registered here: `lgan_cli.cli.app` lists the commands and registers each with
    these settings, so no command module imports the app (no import loop).
    """

    def mark(function):
        function.command_settings = settings
        return function

    return mark


def results_console() -> Console:
    """Stdout for result tables; wide when redirected to a file or pipe, so columns never fold."""
    probe = Console(highlight=False)
    return probe if probe.is_terminal else Console(highlight=False, width=160)


def parse_face_choice(value: str) -> str | int:
    """--face accepts 'largest', 'all' or a 0-based index into the faces sorted by size."""
    choice = value.strip().lower()
    if choice in {"largest", "all"}:
        return choice
    if choice.isdigit():
        return int(choice)
    raise LganError(f"--face must be 'largest', 'all' or a face number (0 = largest), not {value!r}")


def check_path_length(path: Path, what: str = "output") -> None:
    """A path the file system can hold: each name at most NAME_MAX bytes, the whole PATH_MAX."""
    encoded = [os.fsencode(part) for part in Path(path).parts]
    if any(len(part) > NAME_MAX for part in encoded) or len(os.fsencode(str(path))) > PATH_MAX:
        raise LganError(f"{what} path {shown(str(path), 60)} is too long (file names hold at most {NAME_MAX} bytes)")


def check_output_path(output: Path, inputs: list[Path], force: bool) -> Path:
    """Refuse to overwrite an input, or an existing file without --force, or write where no file
    can be created (a missing folder, a file in the folder's place, a read-only place)."""
    output = Path(output)
    check_path_length(output)
    for source in inputs:
        if output.exists() and source.exists() and os.path.samefile(output, source):
            raise LganError(f"refusing to overwrite the input {source}; choose another output path")
    if output.is_dir():
        raise LganError(f"{output} is a directory; give a file name")
    if output.exists() and not force:
        raise LganError(f"{output} already exists; use --force to overwrite it")
    parent = output.parent if str(output.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise LganError(f"cannot write {output}: {parent} is a file, not a folder")
    if not parent.is_dir():
        raise LganError(f"cannot write {output}: folder {parent} does not exist")
    reason = unwritable_reason(parent)
    if reason:
        raise LganError(f"cannot write {output}: folder {parent} is not writable ({reason})")
    return output


def check_output_paths(outputs: list[Path], inputs: list[Path], force: bool) -> None:
    """`check_output_path` for each of one command's outputs, and no two of them the same file
    (e.g. --save-landmarks naming the edited photo), so none replaces another."""
    seen: dict[str, Path] = {}
    for output in outputs:
        check_output_path(output, inputs, force)
        key = os.path.normcase(os.path.abspath(output)).casefold()
        if key in seen:
            raise LganError(f"{seen[key]} and {output} name the same file; give each output its own name")
        seen[key] = output


def load_photo_editor(
    spec: str | None, device, offline: bool, expressions: list[str] | None = None, action_units: bool = False
):
    """The editor behind --model for the commands that edit photos. Those align faces to the
    model's crop size, which a baseline for `lgan eval` (copy) does not have. Without --model,
    the bundled default that knows the requested expressions (`hub.default_model_for`)."""
    from lgan_cli.hub import default_model_for
    from lgan_cli.models.load import load_editor

    if spec is None:
        spec = default_model_for(expressions, action_units)
    editor = load_editor(spec, device, offline=offline)
    if editor.resolution is None:
        raise LganError(
            f"--model {spec} is a baseline for `lgan eval`; "
            "editing photos needs a trained model (see `lgan models list`)"
        )
    return editor


# Options shared by the commands that run a model on photos (one definition, one help text).
ModelOption = Annotated[
    Optional[str],
    typer.Option(
        "--model",
        help=escape("Registry name, run/checkpoint folder or hf:owner/repo[@rev] [bundled default]."),
        show_default=False,
    ),
]
IntensityOption = Annotated[
    Optional[str],
    typer.Option(
        "--intensity",
        help=escape("Level 1..4 (4 = full) or a fraction in [0, 1] such as 0.5 [full]."),
        show_default=False,
    ),
]
DeviceOption = Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")]
FaceOption = Annotated[str, typer.Option("--face", help="Which faces: largest, all, or a number (0 = largest).")]
OfflineOption = Annotated[
    bool, typer.Option("--offline", help="Never use the network (bundled or cached models only).")
]
ForceOption = Annotated[bool, typer.Option("--force", help="Overwrite existing output files.")]
PointsOption = Annotated[
    Optional[str],
    typer.Option(
        "--points",
        help=escape(
            "Stage I's points: anchored (G_l's reading error taken out where the face is neutral, so only "
            "the expression moves the photo) or generated (G_l's points as they come, the paper's) "
            "[the model's setting]."
        ),
        show_default=False,
    ),
]
MouthOption = Annotated[
    Optional[str],
    typer.Option(
        "--mouth",
        help=escape(
            "The mouth at the photo's resolution (a warp model): face-model (the fitted 3D model's teeth "
            "and cavity where the lips part, the photo's own lips where its open mouth closes) or learned "
            "(G_e's colours, the warp alone) [the model's setting]."
        ),
        show_default=False,
    ),
]


ShadingOption = Annotated[
    Optional[str],
    typer.Option(
        "--shading",
        help=escape(
            "The skin's light at the photo's resolution (a warp model): face-model (the fitted 3D model's "
            "change of light from the photo's expression to the new one: a smile's folds and cheeks) or "
            "none (the moved pixels as they are) [the model's setting]."
        ),
        show_default=False,
    ),
]


def with_model_options(editor, mouth: str | None, points: str | None, shading: str | None = None):
    """--mouth, --points and --shading: the same editor with those inference settings (a one-line
    error for a bad value or a model without the choice)."""
    from lgan_cli.models.load import with_inference_settings

    try:
        return with_inference_settings(editor, mouth_interior=mouth, target_points=points, shading=shading)
    except ValueError as error:
        raise LganError(str(error)) from None
