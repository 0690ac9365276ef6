"""Editing a folder of photos: the engine behind `lgan batch`.

Jobs (one per photo: the files it should produce), found by walking the input folder and
checked before any work (outputs that would replace each other, or land outside the output
folder); then `BatchRunner` decodes and detects in threads, runs the model over many faces
per forward pass (`lgan_cli.editing`) and saves in threads. One bad file never stops the
batch: its reason is returned and listed in failures.csv.
"""

from __future__ import annotations

import csv
import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lgan_cli.editing import compose, edit_crops, find_faces
from lgan_cli.errors import LganError
from lgan_cli.faces.decode import IMAGE_SUFFIXES, load_image, save_image
from lgan_cli.faces.detect import FaceDetector
from lgan_cli.fileio import NAME_MAX, atomic_write_text

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


def plan_jobs(
    jobs: list[Job], out: Path, folder: Path, skip_existing: bool, force: bool
) -> tuple[list[Job], int, list[tuple[str, str]]]:
    """(jobs to run, how many are skipped as done, (photo, reason) of those refused)."""
    todo, skipped, failures = [], 0, []
    for job in jobs:
        unsafe = output_problem(job, out, folder)
        if unsafe:
            failures.append((str(job.source), unsafe))
        elif skip_existing and all(p.exists() for p in job.all_outputs()):
            skipped += 1
        elif not force and not skip_existing and any(p.exists() for p in job.all_outputs()):
            failures.append((str(job.source), "output exists (use --skip-existing to resume or --force to overwrite)"))
        else:
            todo.append(job)
    return todo, skipped, failures


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
        raise LganError(
            f"photos whose outputs would replace each other; rename one of each: {'; '.join(clashes[:3])}{more}"
        )


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
        if not hasattr(self.local, "detector"):
            self.local.detector = FaceDetector()
            self.detectors.append(self.local.detector)
        return self.local.detector

    def _load(self, job: Job) -> str | None:
        try:
            job.rgb = load_image(job.source)
            job.faces = find_faces(
                self._detector(), job.rgb, self.editor.resolution, self.which, job.relative.as_posix()
            )
            return None
        except LganError as exc:
            return str(exc)

    def run(self, jobs: list[Job]):
        """Yield (job, None) when done or (job, reason) when it failed."""
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
        edited = [_labelled(mine[x].delivered_crop(), x, cv2) for x in expressions]
        tiles = [_labelled(first.source.crop, "input", cv2), *edited]
        rows.append(np.hstack(tiles))
    return np.ascontiguousarray(np.vstack(rows))


def _labelled(crop: np.ndarray, text: str, cv2) -> np.ndarray:
    size = crop.shape[0]
    band = np.full((max(18, size // 8), size, 3), 255, dtype=np.uint8)
    scale = band.shape[0] / 36
    cv2.putText(band, text, (4, int(band.shape[0] * 0.75)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([crop, band])


def write_failures(path: Path, failures: list[tuple[str, str]]) -> None:
    """failures.csv (path, reason), or no such file when nothing failed."""
    if not failures:
        path.unlink(missing_ok=True)  # no stale list from an earlier run
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["path", "reason"])
    writer.writerows(failures)
    atomic_write_text(path, buffer.getvalue())
