"""Photos unlike the training set, made from held-out photos, for judging a model before shipping it.

The London set is studio-lit, frontal and 1350 px. Users bring dim rooms, tilted heads, small
phone pictures, tight selfie crops and group photos. This writes those variants of the given
photos into a folder for `lgan eval --photos` and for looking at by eye:

    python scripts/photo_variants.py ../shared/datasets/london/neutral_front/0{01,42,64}_03.jpg --out variants
    lgan eval --photos variants --expr happy --sheet variants-sheet.png

Variants per photo: `dim` (darker, warm, noisy), `tilt` (head rolled by 15 degrees), `small`
(480 px wide), `selfie` (tight off-centre crop, upscaled, slightly soft), and one `pair` photo
of the first two photos side by side (two faces; the evaluation edits the larger).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from lgan_cli.faces.decode import load_image, save_image


def dim(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    light = (rgb.astype(np.float32) / 255.0) ** 1.8 * np.array([1.0, 0.85, 0.65]) * 255
    return np.clip(light + rng.normal(0, 4, rgb.shape), 0, 255).astype(np.uint8)


def tilt(rgb: np.ndarray, degrees: float = 15.0) -> np.ndarray:
    height, width = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(rgb, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)


def small(rgb: np.ndarray, width: int = 480) -> np.ndarray:
    height = round(rgb.shape[0] * width / rgb.shape[1])
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


def selfie(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    box = rgb[int(0.12 * height) : int(0.82 * height), int(0.22 * width) : int(0.86 * width)]
    upscaled = cv2.resize(box, (width, round(width * box.shape[0] / box.shape[1])), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(upscaled, (0, 0), 1.2)


def pair(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    height = min(first.shape[0], second.shape[0])
    fit = lambda image: cv2.resize(image, (round(image.shape[1] * height / image.shape[0]), height))  # noqa: E731
    return np.hstack([fit(first), fit(second)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = [(path, load_image(path)) for path in args.photos]
    for path, rgb in images:
        for name, variant in (
            ("dim", dim(rgb, rng)),
            ("tilt", tilt(rgb)),
            ("small", small(rgb)),
            ("selfie", selfie(rgb)),
        ):
            save_image(variant, args.out / f"{path.stem}_{name}.jpg")
    if len(images) >= 2:
        save_image(pair(images[0][1], images[1][1]), args.out / f"{images[0][0].stem}_{images[1][0].stem}_pair.jpg")
    print(f"wrote {len(list(args.out.glob('*.jpg')))} photos to {args.out}")


if __name__ == "__main__":
    main()
