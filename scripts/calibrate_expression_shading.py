"""Fit the expression shading's gain to real smiles: how much light a smile really adds or takes.

    python scripts/calibrate_expression_shading.py ../shared/datasets/london \
        --people 002,012,019,027,036,041,066,086,097,104,114,122,127,134,139,172

Reproduces `SHADING_GAINS` in lgan_cli/faces/expression_shading.py (run it on people the models
are not evaluated on: the London training people above). For each person, the smiling photo is
registered onto the neutral one on the stable points (eye corners, nose bridge), both are cut at
CROP px, and the neutral crop is warped to the smile's points by the renderer's own prior (the
thin-plate spline of `flow.prior_flow`): what a warp alone gives. The log of the real smile's
linear light over that warp's (both blurred, so misregistered detail counts little), per colour
channel and for luminance, is what the smile's shading is; the model's log-ratio for the same two
sets of points (`shading_ratio`) is what the 3D model predicts. Over the cheeks and the folds
around the mouth (not the lips, eyes or brows, which the expression moves most and a warp
misplaces most), the least-squares slope with a per-person offset (exposure) is the gain. Prints
each person's luminance slope and correlation and the pooled slopes (luminance, red, green, blue).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from lgan_cli.data.registration import apply_matrix, registration_matrix
from lgan_cli.faces.align import align_face
from lgan_cli.faces.decode import load_image
from lgan_cli.faces.detect import FaceDetector
from lgan_cli.faces.expression_shading import shading_ratio
from lgan_cli.faces.ibug68 import OUTER_LIPS
from lgan_cli.faces.mouth_interior import LUMINANCE, polygon_mask, to_linear
from lgan_cli.models.flow import prior_flow, warp
from lgan_cli.pixels import to_pictures, to_tensor

CROP = 512
BLUR = 0.012  # Gaussian sigma, as a fraction of the face's width, on both images before the ratio
EYES_AND_BROWS = (list(range(36, 42)), list(range(42, 48)), list(range(17, 22)), list(range(22, 27)))


def log_light(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """(h, w, 4): the log of the blurred linear light: luminance, red, green, blue."""
    linear = to_linear(rgb)
    channels = np.dstack([linear @ LUMINANCE, linear]).astype(np.float32)
    return np.log(cv2.GaussianBlur(channels, (0, 0), sigma) + 1e-3)


def skin_region(points: np.ndarray, size: int) -> np.ndarray:
    """The cheeks and the folds around the mouth: inside the outline, not the lips, eyes or brows."""
    width = float(np.linalg.norm(points[16] - points[0]))
    region = polygon_mask((size, size), cv2.convexHull(points.astype(np.float32)).reshape(-1, 2)) >= 1
    region = cv2.erode(region.astype(np.uint8), np.ones((int(0.06 * width) | 1,) * 2, np.uint8)).astype(bool)
    grow = np.ones((int(0.08 * width) | 1,) * 2, np.uint8)
    for part in (list(OUTER_LIPS), *EYES_AND_BROWS):
        hull = cv2.convexHull(points[part].astype(np.float32)).reshape(-1, 2)
        region &= cv2.dilate((polygon_mask((size, size), hull) > 0).astype(np.uint8), grow) == 0
    return region


def person(detector: FaceDetector, neutral_path: Path, smiling_path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """(real log-ratios (n, 4): luminance, red, green, blue; the model's log-ratio (n,)) over one
    person's skin region, or None if a face is missing."""
    neutral, smiling = load_image(neutral_path), load_image(smiling_path)
    faces = detector.detect(neutral), detector.detect(smiling)
    if not faces[0] or not faces[1]:
        return None
    source_points, smile_points = faces[0][0].points68, faces[1][0].points68
    matrix = registration_matrix(smile_points, source_points)
    registered = cv2.warpAffine(
        smiling, matrix, (neutral.shape[1], neutral.shape[0]), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    alignment = align_face(source_points, CROP)
    source = alignment.to_crop(source_points).astype(np.float32)
    target = alignment.to_crop(apply_matrix(matrix, smile_points)).astype(np.float32)
    flow, _ = prior_flow(torch.from_numpy(source)[None], torch.from_numpy(target)[None], CROP)
    warped = to_pictures(warp(to_tensor(alignment.crop(neutral)[None]), flow, mode="bicubic"))[0]
    width = float(np.linalg.norm(target[16] - target[0]))
    real = log_light(alignment.crop(registered), BLUR * width) - log_light(warped, BLUR * width)
    found = shading_ratio(source, target, (CROP, CROP))
    predicted = np.zeros((CROP, CROP), np.float32)
    if found is not None:
        (x0, y0, x1, y1), log_ratio = found
        predicted[y0:y1, x0:x1] = log_ratio
    region = skin_region(target, CROP)
    return real[region], predicted[region]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("london", type=Path, help="the London set (neutral_front/, smiling_front/)")
    parser.add_argument("--people", required=True, help="comma-separated ids (training people only)")
    args = parser.parse_args()
    detector = FaceDetector()
    pooled_real, pooled_model = [], []  # per person: (n, 4) and (n,), each less its mean (exposure)
    for pid in args.people.split(","):
        neutral = next((args.london / "neutral_front").glob(f"{pid}_*.jpg"), None)
        smiling = next((args.london / "smiling_front").glob(f"{pid}_*.jpg"), None)
        found = person(detector, neutral, smiling) if neutral and smiling else None
        if found is None:
            print(f"{pid}: skipped (a photo or a face is missing)")
            continue
        real, model = found[0] - found[0].mean(axis=0), found[1] - found[1].mean()
        slope = float(real[:, 0] @ model / max(model @ model, 1e-12))
        correlation = float(np.corrcoef(real[:, 0], model)[0, 1])
        print(f"{pid}: slope {slope:.2f}, correlation {correlation:.2f}, model log-ratio sd {model.std():.4f}")
        pooled_real.append(real)
        pooled_model.append(model)
    real, model = np.concatenate(pooled_real), np.concatenate(pooled_model)
    slopes = real.T @ model / max(model @ model, 1e-12)
    people = [float(r[:, 0] @ m / max(m @ m, 1e-12)) for r, m in zip(pooled_real, pooled_model)]
    print(
        f"pooled slope (the gain), luminance: {slopes[0]:.2f}; median of people {np.median(people):.2f}; "
        f"correlation {np.corrcoef(real[:, 0], model)[0, 1]:.2f} over {len(people)} people"
    )
    print(f"per channel (SHADING_GAINS): red {slopes[1]:.2f}, green {slopes[2]:.2f}, blue {slopes[3]:.2f}")


if __name__ == "__main__":
    main()
