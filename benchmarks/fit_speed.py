"""Speed (and accuracy) of the 3D-face-model fit and expression transfer (lgan_cli.geometry).

    python benchmarks/fit_speed.py                 # the example photos in examples/
    python benchmarks/fit_speed.py --repeats 50 --synthetic 40

Per example photo: detect the 68 points once (not timed), then time `fit_face` and the
transfer of all 8 expressions x 4 levels (32 target point sets), best-of and median over
repeats. --synthetic N also fits N random model faces with known identity (all 100 modes),
expression (random recipe and level) and pose, ~180 px wide, and reports the reprojection error
and the error of the predicted neutral face (px), with the fit's default settings and with the
lower noise setting the tests use for exact points.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from lgan_cli.assets import example_photos
from lgan_cli.data.records import RAFD_EXPRESSIONS
from lgan_cli.faces.decode import load_image
from lgan_cli.faces.detect import FaceDetector
from lgan_cli.geometry import FitConfig, Pose, fit_face, landmark_basis, transfer
from lgan_cli.synth.recipes import INTENSITY_LEVELS, blendshape_weights

REPO = Path(__file__).resolve().parents[1]
EXPRESSIONS = [name for name in RAFD_EXPRESSIONS if name != "neutral"]


def time_call(function, repeats: int) -> tuple[float, float]:
    """(best, median) wall time in ms."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return min(times), statistics.median(times)


def transfer_all(fit) -> list[np.ndarray]:
    return [transfer(fit, expression, level) for expression in RAFD_EXPRESSIONS for level in INTENSITY_LEVELS]


def photos_report(repeats: int) -> None:
    photos = example_photos()
    with FaceDetector() as detector:
        detected = [(photo, detector.detect(load_image(photo))) for photo in photos]
    started = time.perf_counter()
    landmark_basis()
    print(f"landmark basis (loaded once per process): {(time.perf_counter() - started) * 1000:.0f} ms")
    print(f"{'photo':28s} {'fit ms (best/median)':>22s} {'32 transfers ms':>18s} {'residual px':>12s} {'IOD px':>7s}")
    fits, transfers = [], []
    for photo, faces in detected:
        if not faces:
            print(f"{photo.name:28s} no face")
            continue
        points = faces[0].points68.astype(np.float64)
        fit = fit_face(points)
        fit_best, fit_median = time_call(lambda: fit_face(points), repeats)
        tr_best, tr_median = time_call(lambda: transfer_all(fit), repeats)
        fits.append(fit_median)
        transfers.append(tr_median)
        iod = np.linalg.norm(points[36] - points[45])
        print(
            f"{photo.name:28s} {fit_best:10.1f} / {fit_median:6.1f} {tr_best:8.1f} / {tr_median:6.1f} "
            f"{fit.residual_px:12.2f} {iod:7.0f}"
        )
    if fits:
        total = statistics.mean(fits) + statistics.mean(transfers)
        print(
            f"mean per face: fit {statistics.mean(fits):.1f} ms + 32 transfers {statistics.mean(transfers):.1f} ms "
            f"= {total:.1f} ms"
        )


def synthetic_report(count: int) -> None:
    basis = landmark_basis(points="ict")
    for label, config in [("default", FitConfig()), ("noise=0.05", FitConfig(noise=0.05))]:
        rng = np.random.default_rng(2024)  # the same faces for both settings
        reprojection, neutral, moved = [], [], []
        for _ in range(count):
            identity = rng.normal(size=len(basis.identity))
            expression = EXPRESSIONS[rng.integers(len(EXPRESSIONS))]
            level = int(rng.integers(1, 5))
            pose = Pose.from_angles(
                rng.normal(0, 8), rng.normal(0, 5), rng.normal(0, 3), 12.0, 128 + rng.normal(0, 5, 2)
            )
            points = pose.project(basis.shape(identity, blendshape_weights(expression, level)))
            truth = pose.project(basis.shape(identity))
            fit = fit_face(points, basis, config)
            reprojection.append(fit.residual_px)
            neutral.append(np.linalg.norm(fit.neutral_points - truth, axis=1).mean())
            moved.append(np.linalg.norm(points - truth, axis=1).mean())
        print(
            f"synthetic ({count} faces, {label}): reprojection mean {np.mean(reprojection):.2f} px "
            f"(max {np.max(reprojection):.2f}); neutral face mean {np.mean(neutral):.2f} px "
            f"(max {np.max(neutral):.2f}; the expression had moved the points {np.mean(moved):.2f} px on average)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--synthetic", type=int, default=0, help="also measure accuracy on N synthetic faces")
    args = parser.parse_args()
    photos_report(args.repeats)
    if args.synthetic:
        synthetic_report(args.synthetic)


if __name__ == "__main__":
    main()
