"""`lgan batch`: edit every photo under a folder, mirroring its tree, resumable and fault-tolerant."""

from __future__ import annotations

import csv
import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from lgan_cli.cli.common import DeviceOption, FaceOption, IntensityOption, ModelOption, NAME_MAX, OfflineOption, check_path_length, command, console, load_photo_editor, parse_face_choice
from lgan_cli.errors import LganError
from lgan_cli.fileio import unwritable_reason
from lgan_cli.names import check_expression_name

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
FAILURES_NAME = "failures.csv"


@dataclass
class Job:
    """One input photo and the files it should produce."""

    source: Path
    relative: Path
    outputs: dict[str, Path]  # expression -> output file
    grid: Path | None
    faces: list = field(default_factory=list)
    rgb: np.ndarray | None = None

    def all_outputs(self) -> list[Path]:
        return [*self.outputs.values(), *([self.grid] if self.grid else [])]


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
    expr: Annotated[Optional[list[str]], typer.Option("--expr", help="Target expression (repeatable).", show_default=False)] = None,
    all_expressions: Annotated[bool, typer.Option("--all-expressions", help="Every expression the model knows.")] = False,
    intensity: IntensityOption = None,
    model: ModelOption = None,
    skip_existing: Annotated[bool, typer.Option("--skip-existing", help="Skip photos whose outputs all exist (resume).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")] = False,
    grid: Annotated[bool, typer.Option("--grid", help="Also a contact sheet per face: input and every expression.")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Threads for decoding, detection and saving.")] = 2,
    batch_size: Annotated[int, typer.Option(min=1, help="Faces per forward pass.")] = 8,
    face: FaceOption = "largest",
    device: DeviceOption = "auto",
    offline: OfflineOption = False,
) -> None:
    """Edit every photo under FOLDER. One bad file never stops the batch: it is listed in the
    summary and in failures.csv. Outputs are written atomically, so an interrupted batch resumes
    with --skip-existing and leaves no half-written files.
    """
    from lgan_cli.device import resolve_device
    from lgan_cli.editing import check_expressions, intensity_label, parse_intensity

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
    editor = load_photo_editor(model, torch_device, offline=offline)
    expressions = list(editor.expressions) if all_expressions else list(dict.fromkeys(expr))
    check_expressions(editor, expressions)

    tag = intensity_label(level)
    sources = find_images(folder, exclude=out)
    if not sources:
        raise LganError(f"no photos under {folder} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    jobs = [make_job(path, folder, out, expressions, tag, grid) for path in sources]
    check_collisions(jobs)
    make_folder(out)
    summary = {"done": 0, "skipped": 0, "failed": 0}
    failures: list[tuple[str, str]] = []
    todo = []
    for job in jobs:
        unsafe = output_problem(job, out, folder)
        if unsafe:
            failures.append((str(job.source), unsafe))
        elif skip_existing and all(p.exists() for p in job.all_outputs()):
            summary["skipped"] += 1
        elif not force and not skip_existing and any(p.exists() for p in job.all_outputs()):
            failures.append((str(job.source), "output exists (use --skip-existing to resume or --force to overwrite)"))
        else:
            todo.append(job)

    columns = (TextColumn("[bold]batch[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[name]}"),
               TimeElapsedColumn(), TimeRemainingColumn())
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


def find_images(folder: Path, exclude: Path | None = None) -> list[Path]:
    """Image files under `folder`, sorted, hidden files and the output folder left out.

    Anything with an image suffix that is not a folder is taken, broken symlinks and loops
    included, so that it is reported in failures.csv instead of silently missing.
    """
    skip = _inside(exclude, folder) if exclude is not None else None
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if skip is not None and relative.parts[: len(skip.parts)] == skip.parts:
            continue
        if not path.is_dir():
            found.append(path)
    return found


def _inside(path: Path, folder: Path) -> Path | None:
    """`path` relative to `folder` when it lies strictly inside it, else None (no error for loops)."""
    try:
        relative = Path(os.path.realpath(path)).relative_to(os.path.realpath(folder))
    except ValueError:
        return None
    return relative if relative.parts else None


def check_collisions(jobs: list[Job]) -> None:
    """Refuse, before any work, two photos that would write the same output (`a.jpg` and
    `a.JPG`; `a.jpg` and `a.png` share a contact sheet); compared ignoring case, as on the
    file systems of macOS and Windows."""
    owner: dict[str, Job] = {}
    clashes = []
    for job in jobs:
        for path in job.all_outputs():
            key = str(path).casefold()
            if key in owner and owner[key] is not job:
                clashes.append(f"{owner[key].relative} and {job.relative} (both -> {path.name})")
            owner.setdefault(key, job)
    if clashes:
        more = f" (and {len(clashes) - 3} more)" if len(clashes) > 3 else ""
        raise LganError(f"photos whose outputs would replace each other; rename one of each: {'; '.join(clashes[:3])}{more}")


def output_problem(job: Job, out: Path, folder: Path) -> str | None:
    """Why a job's outputs cannot be written where they belong (None: they can): a name too
    long for the file system, a symlink in the output tree leading outside --out, or a place
    inside the input folder when --out is not there itself."""
    out_in_input = _inside(out, folder) is not None
    for path in job.all_outputs():
        if len(os.fsencode(path.name)) > NAME_MAX:
            return f"output name too long ({len(os.fsencode(path.name))} bytes; at most {NAME_MAX})"
        if _inside(path, out) is None:
            return f"{path} would be written outside --out (a symlink in the output folder)"
        if not out_in_input and _inside(path, folder) is not None:
            return f"{path} would be written among the input photos"
    return None


def make_job(path: Path, folder: Path, out: Path, expressions: list[str], tag: str, grid: bool) -> Job:
    relative = path.relative_to(folder)
    target_dir = out / relative.parent
    suffix = path.suffix.lower()
    name = lambda e: f"{path.stem}_{e}{'_' + tag if tag else ''}{suffix}"  # noqa: E731
    outputs = {e: target_dir / name(e) for e in expressions}
    return Job(path, relative, outputs, target_dir / f"{path.stem}_grid.png" if grid else None)


class BatchRunner:
    """Decode + detect in threads (one detector per thread), model forward in batches, save in threads."""

    def __init__(self, editor, device, which, expressions, level, batch_size: int, workers: int):
        self.editor, self.device, self.which = editor, device, which
        self.expressions, self.level, self.batch_size = expressions, level, batch_size
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.local = threading.local()
        self.detectors = []

    def _detector(self):
        from lgan_cli.faces.detect import FaceDetector

        if not hasattr(self.local, "detector"):
            self.local.detector = FaceDetector()
            self.detectors.append(self.local.detector)
        return self.local.detector

    def _load(self, job: Job) -> str | None:
        from lgan_cli.editing import find_faces
        from lgan_cli.faces.decode import load_image

        try:
            job.rgb = load_image(job.source)
            job.faces = find_faces(self._detector(), job.rgb, self.editor.resolution, self.which, job.relative.as_posix())
            return None
        except LganError as exc:
            return str(exc)

    def run(self, jobs: list[Job]):
        """Yield (job, None) when done or (job, reason) when it failed."""
        from lgan_cli.editing import edit_crops

        errors = dict(zip(map(id, jobs), self.pool.map(self._load, jobs)))
        ready = [job for job in jobs if errors[id(job)] is None]
        requests = [(f, e, self.level) for job in ready for f in job.faces for e in self.expressions]
        edits = iter(edit_crops(self.editor, requests, self.device, self.batch_size))
        per_job = {id(job): [next(edits) for _ in range(len(job.faces) * len(self.expressions))] for job in ready}
        saved = dict(zip(map(id, ready), self.pool.map(lambda j: self._save(j, per_job[id(j)]), ready)))
        for job in jobs:
            yield job, errors[id(job)] or saved.get(id(job))
            job.rgb, job.faces = None, []  # free the photo

    def _save(self, job: Job, edits: list) -> str | None:
        from lgan_cli.editing import compose
        from lgan_cli.faces.decode import save_image

        try:
            for expression, path in job.outputs.items():
                chosen = [e for e in edits if e.expression == expression]
                save_image(compose(job.rgb, chosen), path, like=job.source, make_parents=True)
            if job.grid is not None:
                save_image(contact_sheet(edits, self.expressions), job.grid, make_parents=True)
            return None
        except LganError as exc:
            return str(exc)

    def close(self) -> None:
        self.pool.shutdown()
        for detector in self.detectors:
            detector.close()


def contact_sheet(edits: list, expressions: list[str]) -> np.ndarray:
    """One row per face: the input crop, then the face with every expression, labelled."""
    import cv2

    rows = []
    faces = list(dict.fromkeys(id(e.source) for e in edits))
    for face_id in faces:
        mine = {e.expression: e for e in edits if id(e.source) == face_id}
        first = next(iter(mine.values()))
        tiles = [_labelled(first.source.crop, "input", cv2)] + [_labelled(mine[x].crop, x, cv2) for x in expressions]
        rows.append(np.hstack(tiles))
    return np.ascontiguousarray(np.vstack(rows))


def _labelled(crop: np.ndarray, text: str, cv2) -> np.ndarray:
    size = crop.shape[0]
    band = np.full((max(18, size // 8), size, 3), 255, dtype=np.uint8)
    scale = band.shape[0] / 36
    cv2.putText(band, text, (4, int(band.shape[0] * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([crop, band])


def write_failures(path: Path, failures: list[tuple[str, str]]) -> None:
    from lgan_cli.fileio import atomic_write_text

    if not failures:
        path.unlink(missing_ok=True)  # no stale list from an earlier run
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["path", "reason"])
    writer.writerows(failures)
    atomic_write_text(path, buffer.getvalue())


def print_summary(summary: dict, failures: list[tuple[str, str]], out: Path) -> None:
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
