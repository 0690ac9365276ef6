"""Measure the detector's landmark convention offset against the ICT model's landmark vertices.

    python scripts/calibrate_point_offsets.py [--london ../shared/datasets/london] [--people 60]

Detects the 68 points on the neutral London photos of the first N people (sorted ids; the
rest stay unseen by the calibration, and tests/test_geometry.py evaluates on them), fits
identity and pose only (no expression: a neutral photo's departures from the model are the
convention, plus the resting lids every neutral face has), and averages the residuals in the
model's frame. Repeats a few rounds (the identity takes up part of each correction) and
writes the result into lgan_cli/geometry/conventions.py (MEDIAPIPE_OFFSET_XY).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lgan_cli.faces.decode import load_image
from lgan_cli.faces.detect import FaceDetector
from lgan_cli.fileio import rewrite_generated_block
from lgan_cli.geometry.basis import landmark_basis
from lgan_cli.geometry.fit import FitConfig, fit_face
from lgan_cli.geometry.pose import FLIP

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "lgan_cli" / "geometry" / "conventions.py"


def detect_neutral(london: Path, people: int) -> np.ndarray:
    photos = sorted((london / "neutral_front").glob("*_03.jpg"))[:people]
    points = []
    with FaceDetector() as detector:
        for photo in photos:
            faces = detector.detect(load_image(photo))
            if faces:
                points.append(faces[0].points68.astype(np.float64))
    print(f"{len(points)} of {len(photos)} neutral photos detected")
    return np.stack(points)


def model_frame_residual(points: np.ndarray, basis, config: FitConfig) -> np.ndarray:
    """(68, 3) residual of one identity-only fit, rotated back into the model's frame, z = 0."""
    fit = fit_face(points, basis, config)
    pixels = points - fit.project({})
    in_camera = pixels @ FLIP / fit.pose.scale  # (68, 3): x, y up, z = 0
    in_model = in_camera @ fit.pose.rotation  # R^T applied to each row
    in_model[:, 2] = 0.0
    return in_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--london", type=Path, default=REPO.parent / "shared" / "datasets" / "london")
    parser.add_argument("--people", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    points = detect_neutral(args.london, args.people)
    plain = landmark_basis(points="ict")
    config = FitConfig(blendshapes=())
    offset = np.zeros((68, 3))
    for round_ in range(args.rounds):
        basis = plain.with_mean_offset(offset)
        correction = np.mean([model_frame_residual(p, basis, config) for p in points], axis=0)
        offset += correction
        print(f"round {round_ + 1}: mean correction {np.linalg.norm(correction, axis=1).mean():.4f} cm")
    rows = ",\n".join(f"    ({x:.3f}, {y:.3f})" for x, y in offset[:, :2])
    rewrite_generated_block(TARGET, "MEDIAPIPE_OFFSET_XY: tuple[tuple[float, float], ...] = (", rows + ",\n", ")")
    print(f"wrote {TARGET} (mean |offset| {np.linalg.norm(offset, axis=1).mean():.3f} cm)")


if __name__ == "__main__":
    main()
