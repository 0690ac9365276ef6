"""`lgan batch`: edit every photo under a folder, mirroring its tree, resumable and fault-tolerant."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from lgan_cli.cli.common import (
    DeviceOption,
    FaceOption,
    IntensityOption,
    ModelOption,
    MouthOption,
    OfflineOption,
    PointsOption,
    ShadingOption,
    check_path_length,
    command,
    console,
    load_photo_editor,
    parse_face_choice,
    with_model_options,
)
from lgan_cli.data.records import RAFD_EXPRESSIONS
from lgan_cli.errors import LganError
from lgan_cli.fileio import unwritable_reason
from lgan_cli.names import check_expression_name


@command(
    epilog=(
        "Examples:\n\n"
        "  lgan batch ./faces --expr happy --out ./happy\n\n"
        "  lgan batch ./faces --all-expressions --out ./edited --grid --batch-size 8\n\n"
        "  lgan batch ./faces --expr happy --expr neutral --intensity 0.5 --out ./soft --skip-existing"
    )
)
def batch(
    folder: Annotated[Path, typer.Argument(help="Folder of photos (searched recursively).", show_default=False)],
    out: Annotated[Path, typer.Option(help="Output folder; its tree mirrors the input's.", show_default=False)],
    expr: Annotated[
        Optional[list[str]], typer.Option("--expr", help="Target expression (repeatable).", show_default=False)
    ] = None,
    all_expressions: Annotated[
        bool, typer.Option("--all-expressions", help="Every expression the model knows.")
    ] = False,
    intensity: IntensityOption = None,
    model: ModelOption = None,
    skip_existing: Annotated[
        bool, typer.Option("--skip-existing", help="Skip photos whose outputs all exist (resume).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")] = False,
    grid: Annotated[
        bool, typer.Option("--grid", help="Also a contact sheet per face: input and every expression.")
    ] = False,
    workers: Annotated[int, typer.Option(min=1, help="Threads for decoding, detection and saving.")] = 2,
    batch_size: Annotated[int, typer.Option(min=1, help="Faces per forward pass.")] = 8,
    face: FaceOption = "largest",
    device: DeviceOption = "auto",
    mouth: MouthOption = None,
    points: PointsOption = None,
    shading: ShadingOption = None,
    offline: OfflineOption = False,
) -> None:
    """Edit every photo under FOLDER. One bad file never stops the batch: it is listed in the
    summary and in failures.csv. Outputs are written atomically, so an interrupted batch resumes
    with --skip-existing and leaves no half-written files.
    """
    from lgan_cli.batch import (
        FAILURES_NAME,
        BatchRunner,
        check_collisions,
        find_images,
        make_job,
        plan_jobs,
        write_failures,
    )
    from lgan_cli.device import resolve_device
    from lgan_cli.editing import check_expressions, intensity_label, parse_intensity
    from lgan_cli.faces.decode import IMAGE_SUFFIXES

    if not folder.is_dir():
        raise LganError(f"{folder} is not a folder")
    if bool(expr) == all_expressions:
        raise LganError("give --expr (one or more) or --all-expressions")
    for name in expr or []:
        check_expression_name(name, "--expr")
    which = parse_face_choice(face)
    level = parse_intensity(intensity)
    check_out_folder(out, folder)
    torch_device = resolve_device(device)
    wanted = list(RAFD_EXPRESSIONS) if all_expressions else list(dict.fromkeys(expr))
    editor = with_model_options(
        load_photo_editor(model, torch_device, offline=offline, expressions=wanted), mouth, points, shading
    )
    expressions = list(editor.expressions) if all_expressions else wanted
    check_expressions(editor, expressions)

    tag = intensity_label(level)
    sources = find_images(folder, exclude=out)
    if not sources:
        raise LganError(f"no photos under {folder} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    jobs = [make_job(path, folder, out, expressions, tag, grid) for path in sources]
    check_collisions(jobs)
    make_folder(out)
    todo, skipped, failures = plan_jobs(jobs, out, folder, skip_existing, force)
    summary = {"done": 0, "skipped": skipped, "failed": 0}

    columns = (
        TextColumn("[bold]batch[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[name]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    runner = BatchRunner(editor, torch_device, which, expressions, level, batch_size, workers)
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("batch", total=len(todo), name="")
        chunk = max(batch_size, workers)
        for start in range(0, len(todo), chunk):
            for job, error in runner.run(todo[start : start + chunk]):
                if error is None:
                    summary["done"] += 1
                else:
                    failures.append((str(job.source), error))
                progress.update(task, advance=1, name=job.relative.name)
    runner.close()
    summary["failed"] = len(failures)
    write_failures(out / FAILURES_NAME, failures)
    print_summary(summary, failures, out)
    if summary["failed"] and not summary["done"] and not summary["skipped"]:
        source, reason = failures[0]
        raise LganError(
            f"none of the {summary['failed']} photos was edited (first failure: {Path(source).name}: {reason}); "
            f"every reason is in {out / FAILURES_NAME}"
        )


def check_out_folder(out: Path, folder: Path) -> None:
    """--out must be a folder lgan may fill: not a file, not the input folder itself (outputs
    would mix with the photos), a path the file system can hold. Inside the input folder is
    fine: it is left out of the search."""
    check_path_length(out, "--out")
    if out.exists() and not out.is_dir():
        raise LganError(f"--out {out} is a file; give a folder for the outputs")
    if out.exists() and os.path.samefile(out, folder):
        raise LganError(f"--out {out} is the input folder; give another folder (outputs never go among the photos)")


def make_folder(out: Path) -> None:
    """Create --out (and its parents) and make sure files can be written there, in one line if not."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LganError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
    reason = unwritable_reason(out)
    if reason:
        raise LganError(f"cannot write into the output folder {out}: {reason}")


def print_summary(summary: dict, failures: list[tuple[str, str]], out: Path) -> None:
    from lgan_cli.batch import FAILURES_NAME

    table = Table(title=f"batch into {out}")
    for column in ("done", "skipped", "failed"):
        table.add_column(column, justify="right")
    table.add_row(str(summary["done"]), str(summary["skipped"]), str(summary["failed"]))
    console.print(table)
    if failures:
        listed = Table("failed file", "reason", title=f"failures (also in {out / FAILURES_NAME})")
        for source, reason in failures[:20]:
            listed.add_row(Path(source).name, reason)
        if len(failures) > 20:
            listed.add_row(f"... and {len(failures) - 20} more", "")
        console.print(listed)
