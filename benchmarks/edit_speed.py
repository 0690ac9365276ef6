"""End-to-end speed of `lgan edit` and `lgan batch` on this machine, for one or more models.

- edit: one `lgan edit` process on a 1350 x 1350 photo, timed from process start to the
  saved output (interpreter start, imports, model load, detection, both generators,
  composing into the photo, save), plus the same stages timed in-process (compose: best of 3),
  and the compose step alone on the same face scaled into a 4000 x 3000 photo (best of 3).
- batch: faces per second of `lgan batch` over N copies of the photo at --batch-size 1 and 8
  (warm process, so model load and imports are amortised).

    python benchmarks/edit_speed.py                                   # london-128 (U-Net) and the default model
    python benchmarks/edit_speed.py --model runs/00000-london-128 --copies 16
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "examples" / "london_001_neutral.jpg"


def time_edit_process(model: str | None, out_dir: Path, repeats: int) -> list[float]:
    times = []
    for index in range(repeats):
        out = out_dir / f"edit{index}.jpg"
        command = [
            sys.executable,
            "-m",
            "lgan_cli",
            "edit",
            str(PHOTO),
            "--expr",
            "happy",
            "--out",
            str(out),
            "--device",
            "cpu",
        ]
        if model:
            command += ["--model", model]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def large_photo(rgb, width: int = 4000, height: int = 3000):
    """The photo scaled so its height is `height`, on a `width`-wide canvas (edges repeated)."""
    import cv2

    scale = height / rgb.shape[0]
    scaled = cv2.resize(rgb, (round(rgb.shape[1] * scale), height), interpolation=cv2.INTER_CUBIC)
    pad = max(0, width - scaled.shape[1])
    return cv2.copyMakeBorder(scaled, 0, 0, pad // 2, pad - pad // 2, cv2.BORDER_REPLICATE)[:, :width]


def best_time(action, repeats: int = 3) -> float:
    """Seconds of the fastest of `repeats` runs: a single run of a large compose swings by 2-4 times
    on this VM (fresh pages for the photo-sized arrays)."""
    best = float("inf")
    for _ in range(repeats):
        mark = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - mark)
    return best


def time_stages(model: str | None) -> dict[str, float]:
    import torch

    stages = {}
    started = time.perf_counter()
    from lgan_cli.editing import compose, edit_crops, find_faces
    from lgan_cli.faces.decode import load_image, save_image
    from lgan_cli.faces.detect import FaceDetector
    from lgan_cli.models.load import load_editor

    stages["imports"] = time.perf_counter() - started
    mark = time.perf_counter()
    editor = load_editor(model, torch.device("cpu"))
    stages["model load"] = time.perf_counter() - mark
    mark = time.perf_counter()
    rgb = load_image(PHOTO)
    stages["decode"] = time.perf_counter() - mark
    with FaceDetector() as detector:
        find_faces(detector, rgb, editor.resolution, "largest", "photo")  # warm-up
        mark = time.perf_counter()
        faces = find_faces(detector, rgb, editor.resolution, "largest", "photo")
        stages["detect + align"] = time.perf_counter() - mark
    edit_crops(editor, [(faces[0], "happy", None)], torch.device("cpu"))  # warm-up
    mark = time.perf_counter()
    edits = edit_crops(editor, [(faces[0], "happy", None)], torch.device("cpu"))
    stages["G_l + G_e"] = time.perf_counter() - mark
    result = compose(rgb, edits)
    stages["compose"] = best_time(lambda: compose(rgb, edits))
    with tempfile.TemporaryDirectory() as tmp:
        mark = time.perf_counter()
        save_image(result, Path(tmp) / "out.jpg", like=PHOTO)
        stages["save"] = time.perf_counter() - mark
    big = large_photo(rgb)
    with FaceDetector() as detector:
        big_faces = find_faces(detector, big, editor.resolution, "largest", "photo")
    big_edits = edit_crops(editor, [(big_faces[0], "happy", None)], torch.device("cpu"))
    stages["compose 4000x3000"] = best_time(lambda: compose(big, big_edits))
    return stages


def time_batch(model: str | None, copies: int, batch_size: int, work: Path) -> float:
    from lgan_cli.cli.app import main

    source = work / f"in{batch_size}"
    source.mkdir()
    for index in range(copies):
        shutil.copy(PHOTO, source / f"face{index:03d}.jpg")
    args = [
        "batch",
        str(source),
        "--expr",
        "happy",
        "--out",
        str(work / f"out{batch_size}"),
        "--batch-size",
        str(batch_size),
        "--device",
        "cpu",
    ]
    if model:
        args += ["--model", model]
    started = time.perf_counter()
    try:
        main(args)
    except SystemExit as exc:
        if exc.code:
            raise
    return copies / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        action="append",
        default=None,
        help="model spec, repeatable (default: london-128, the paper's U-Net renderer, and the default model)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--copies", type=int, default=16)
    args = parser.parse_args()
    for model in args.model or ["london-128", None]:
        print(f"== model: {model or 'the default model'}")
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            times = time_edit_process(model, work, args.repeats)
            print(
                f"lgan edit, 1350x1350, whole process: {min(times):.2f} s best, "
                f"{sum(times) / len(times):.2f} s mean of {len(times)}"
            )
            for stage, seconds in time_stages(model).items():
                print(f"  {stage:18s} {seconds * 1000:8.1f} ms")
            for batch_size in (1, 8):
                rate = time_batch(model, args.copies, batch_size, work)
                print(f"lgan batch --batch-size {batch_size}: {rate:.2f} faces/s ({args.copies} photos)")


if __name__ == "__main__":
    main()
