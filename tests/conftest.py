"""Shared fixtures: paths to the example photos and ../shared data, and one face detector."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
SHARED = REPO.parent / "shared"
LONDON = SHARED / "datasets" / "london"


@pytest.fixture(scope="session")
def example_photos() -> list[Path]:
    from lgan_cli.assets import example_photos as bundled_examples

    photos = [photo for photo in bundled_examples() if photo.suffix == ".jpg"]
    assert photos, "examples/ must hold the example photos"
    return photos


@pytest.fixture(scope="session")
def london_root() -> Path:
    if not (LONDON / "neutral_front").is_dir():
        pytest.skip("../shared/datasets/london not present (CI without the shared data)")
    return LONDON


@pytest.fixture(scope="session")
def detector():
    from lgan_cli.faces.detect import FaceDetector

    with FaceDetector() as found:
        yield found


@pytest.fixture(scope="session")
def example_face(example_photos, detector):
    """(rgb, Face) for the first example photo."""
    from lgan_cli.faces.decode import load_image

    rgb = load_image(example_photos[0])
    faces = detector.detect(rgb)
    assert len(faces) == 1
    return rgb, faces[0]


def blob_image(size: tuple[int, int], centres: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    """A grey uint8 image with Gaussian blobs at sub-pixel centres, for sub-pixel geometry tests."""
    height, width = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    image = np.zeros((height, width))
    for cx, cy in centres:
        image += np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2))
    return np.clip(image * 255, 0, 255).astype(np.uint8)


def blob_centroid(image: np.ndarray, near: np.ndarray, window: int) -> np.ndarray:
    """Intensity-weighted centroid of the blob around `near`."""
    x0, y0 = (np.round(near) - window).astype(int)
    patch = image[max(y0, 0) : y0 + 2 * window + 1, max(x0, 0) : x0 + 2 * window + 1].astype(np.float64)
    ys, xs = np.mgrid[0 : patch.shape[0], 0 : patch.shape[1]]
    total = patch.sum()
    return np.array([(xs * patch).sum() / total + max(x0, 0), (ys * patch).sum() / total + max(y0, 0)])


def prepare_examples(root: Path, photos: list[Path], test_ids: tuple[str, ...] | None, size: int = 64):
    """The example photos as a `folder` dataset prepared at `size` px (smiling -> happy)."""
    from PIL import Image

    from lgan_cli.data.prepare import PrepareConfig, prepare_dataset
    from lgan_cli.data.prepared import PreparedDataset

    rows = ["path,identity,expression"]
    for photo in photos:
        Image.open(photo).convert("RGB").resize((400, 400)).save(root / photo.name)
        _, person, expression = photo.stem.split("_")
        rows.append(f"{photo.name},{person},{'happy' if expression == 'smiling' else expression}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    out = root / "prepared"
    config = PrepareConfig(
        dataset="folder",
        data_root=str(root),
        resolution=size,
        test_fraction=0.0 if not test_ids else 0.2,
        test_ids=test_ids,
    )
    prepare_dataset(config, out)
    return PreparedDataset.load(out)


def run_cli(args: list, capsys) -> tuple[int, str, str]:
    """Run the real `lgan` entry point in-process: (exit code, stdout, stderr)."""
    from lgan_cli.cli.app import main

    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def edit_with_landmarks(photo: Path, args: list, tmp_path: Path, capsys, name: str = "edit") -> tuple[Path, np.ndarray]:
    """`lgan edit photo *args` on the CPU, asserted to succeed: the output file and the edit's
    68 target points (photo pixels, first face)."""
    out, points = tmp_path / f"{name}.png", tmp_path / f"{name}.json"
    code, _, stderr = run_cli(
        ["edit", photo, *args, "--out", out, "--save-landmarks", points, "--device", "cpu"], capsys
    )
    assert code == 0, stderr
    return out, np.array(json.loads(points.read_text())["faces"][0]["points68"])


def pdm_coefficients(decoder, points):
    """Least-squares PDM coefficients of shapes (B, 68, 2) (the decoder's modes are orthonormal)."""
    flat = points.reshape(points.shape[0], -1) - decoder.mean
    return (flat @ decoder.modes.T) / decoder.stds.clamp(min=1e-8)
