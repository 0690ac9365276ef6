"""Reproducibly convert face-api's face recognition and face expression weights to safetensors.

npm `@vladmandic/face-api@1.7.15` (MIT) ships TF.js weights: a JSON manifest per net plus
binary shards, most tensors uint8-quantised. TF.js dequantises each value as
`float32(q * scale + min)`, the product and sum taken in float64 (JavaScript numbers). To
stay small AND exact we keep the quantised form: `NAME.q` (uint8, TF.js shape and layout),
`NAME.scale` and `NAME.min` (float64 scalars, the manifest's numbers unchanged; float32 would
shift some dequantised weights by one ulp). Unquantised tensors are stored as float32 under
`NAME`. `lgan_cli.facenets.tfjs_weights` dequantises at load time.

The safetensors files are written by a small writer here rather than `safetensors.save_file`,
whose metadata order changes from run to run: sorted keys and fixed metadata make the output
byte-identical on every run.

    python scripts/convert_faceapi.py                       # npm pack into a temp dir
    python scripts/convert_faceapi.py --tarball face-api-1.7.15.tgz --out-dir /tmp/w

Writes OUT_DIR/faceapi_recognition.safetensors, OUT_DIR/faceapi_expression.safetensors and
updates OUT_DIR/manifest.json (read-modify-write; other entries are kept).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "@vladmandic/face-api"
VERSION = "1.7.15"
SCRIPT = "scripts/convert_faceapi.py"

# (model name inside package/model/, our file name, description for the manifest)
NETS = (
    (
        "face_recognition_model",
        "faceapi_recognition.safetensors",
        "face-api face recognition net: TF.js port of dlib's ResNet metric net "
        "(dlib_face_recognition_resnet_model_v1), 150x150 RGB chip -> 128-D descriptor",
    ),
    (
        "face_expression_model",
        "faceapi_expression.safetensors",
        "face-api face expression net: densely connected depthwise-separable CNN, 112x112 RGB face box -> "
        "7 expression probabilities (neutral, happy, sad, angry, fearful, disgusted, surprised)",
    ),
)

LICENCE = "MIT"
ATTRIBUTION = (
    "face-api by Vladimir Mandic (https://github.com/vladmandic/face-api), MIT licence "
    "(package LICENSE: 'MIT License. Copyright (c) Vladimir Mandic'); forked from face-api.js by "
    "Vincent Muehler (justadudewhohacks, MIT), where these TF.js models come from. "
)
RECOGNITION_ATTRIBUTION = ATTRIBUTION + (
    "The recognition weights are dlib's dlib_face_recognition_resnet_model_v1 by Davis King "
    "(face-api TUTORIAL.md: 'The weights have been trained by davisking'); dlib-models README: "
    "'anyone can do whatever they want with these model files as I've released them into the "
    "public domain' (distributed on PyPI as face_recognition_models under CC0 1.0)."
)
EXPRESSION_ATTRIBUTION = ATTRIBUTION + (
    "The expression net was trained by face-api.js's author 'on a variety of images from publicly "
    "available datasets as well as images scraped from the web' (face-api TUTORIAL.md)."
)

# safetensors dtype names and the order tensors are laid out in (widest first keeps alignment)
_DTYPES = {np.dtype(np.float64): "F64", np.dtype(np.float32): "F32", np.dtype(np.uint8): "U8"}


def read_tfjs_model(package_root: Path, model: str) -> dict[str, np.ndarray]:
    """The model's tensors in our stored form: uint8 + float64 scale/min, or float32."""
    folder = package_root / "model"
    groups = json.loads((folder / f"{model}-weights_manifest.json").read_text())
    out: dict[str, np.ndarray] = {}
    for group in groups:
        data = b"".join((folder / shard).read_bytes() for shard in group["paths"])
        offset = 0
        for entry in group["weights"]:
            if entry["dtype"] != "float32":
                raise ValueError(f"{model}: unexpected dtype {entry['dtype']} for {entry['name']}")
            count = math.prod(entry["shape"])
            quant = entry.get("quantization")
            name = entry["name"]
            if quant is None:
                values = np.frombuffer(data, dtype="<f4", count=count, offset=offset)
                out[name] = values.reshape(entry["shape"]).astype(np.float32)
                offset += 4 * count
            elif quant["dtype"] == "uint8":
                values = np.frombuffer(data, dtype=np.uint8, count=count, offset=offset)
                out[f"{name}.q"] = values.reshape(entry["shape"]).copy()
                out[f"{name}.scale"] = np.array(quant["scale"], dtype=np.float64)
                out[f"{name}.min"] = np.array(quant["min"], dtype=np.float64)
                offset += count
            else:
                raise ValueError(f"{model}: unsupported quantisation {quant['dtype']} for {name}")
        if offset != len(data):
            raise ValueError(f"{model}: {len(data) - offset} bytes left over in {group['paths']}")
    return out


def safetensors_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """A deterministic safetensors file: widest dtype first, then by name; sorted JSON header."""
    order = sorted(tensors, key=lambda k: (-tensors[k].dtype.itemsize, k))
    header: dict[str, object] = {"__metadata__": dict(sorted(metadata.items()))}
    blobs, offset = [], 0
    for name in order:
        array = np.ascontiguousarray(tensors[name])
        blob = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {
            "dtype": _DTYPES[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data section starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def npm_pack(folder: Path) -> Path:
    """Download the package tarball with npm (no install, no scripts run)."""
    result = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent", "--pack-destination", str(folder)],
        check=True,
        capture_output=True,
        text=True,
    )
    return folder / result.stdout.strip().splitlines()[-1]


def unpack(tarball: Path, folder: Path) -> Path:
    """Extract package.json, LICENSE and the two nets' weights; return the package root."""
    wanted = {"package/package.json", "package/LICENSE"}
    for model, _, _ in NETS:
        wanted.add(f"package/model/{model}-weights_manifest.json")
    with tarfile.open(tarball, "r:gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        names = {m.name for m in members}
        for model, _, _ in NETS:
            manifest = json.loads(tar.extractfile(f"package/model/{model}-weights_manifest.json").read())
            wanted.update(f"package/model/{shard}" for group in manifest for shard in group["paths"])
        missing = wanted - names
        if missing:
            raise SystemExit(f"{tarball} lacks {sorted(missing)}")
        tar.extractall(folder, members=[m for m in members if m.name in wanted], filter="data")
    root = folder / "package"
    info = json.loads((root / "package.json").read_text())
    if (info["name"], info["version"], info["license"]) != (PACKAGE, VERSION, LICENCE):
        raise SystemExit(
            f"{tarball} is {info['name']}@{info['version']} ({info['license']}), expected {PACKAGE}@{VERSION}"
        )
    if not (root / "LICENSE").read_text().startswith("MIT License"):
        raise SystemExit(f"{tarball}: LICENSE is not the MIT licence")
    return root


def convert(package_root: Path, out_dir: Path) -> dict[str, dict]:
    """Write both safetensors files; return their manifest entries."""
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = {}
    for model, file_name, what in NETS:
        folder = package_root / "model"
        groups = json.loads((folder / f"{model}-weights_manifest.json").read_text())
        shard_sha = ",".join(hashlib.sha256((folder / s).read_bytes()).hexdigest() for g in groups for s in g["paths"])
        metadata = {
            "source_package": f"npm {PACKAGE}@{VERSION}",
            "source_files": f"model/{model}-weights_manifest.json + shards (sha256 {shard_sha})",
            "licence": LICENCE,
            "format": "TF.js tensors and layouts; NAME.q uint8 with float64 NAME.scale, NAME.min: "
            "value = float32(q * scale + min) in float64, as TF.js does; otherwise float32 NAME",
            "script": SCRIPT,
        }
        data = safetensors_bytes(read_tfjs_model(package_root, model), metadata)
        target = out_dir / file_name
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        entries[file_name] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "what": what,
            "source": f"npm {PACKAGE}@{VERSION}, package/model/{model}-weights_manifest.json + "
            f"{', '.join(s for g in groups for s in g['paths'])}, re-stored without loss (uint8 + scale/min)",
            "licence": LICENCE
            if model != "face_recognition_model"
            else "MIT (face-api); dlib model weights public domain / CC0",
            "attribution": RECOGNITION_ATTRIBUTION if model == "face_recognition_model" else EXPRESSION_ATTRIBUTION,
            "script": SCRIPT,
        }
        print(f"wrote {target} ({len(data):,} bytes, sha256 {entries[file_name]['sha256']})")
    return entries


def update_manifest(path: Path, entries: dict[str, dict]) -> None:
    """Read-modify-write weights/manifest.json, keeping every other entry."""
    manifest = json.loads(path.read_text()) if path.exists() else {"files": {}}
    manifest.setdefault("files", {}).update(entries)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tarball", type=Path, help=f"a local {PACKAGE}-{VERSION} .tgz (default: npm pack it)")
    parser.add_argument("--out-dir", type=Path, default=REPO / "weights", help="where to write (default: weights/)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="faceapi-") as tmp:
        tarball = args.tarball or npm_pack(Path(tmp))
        root = unpack(tarball, Path(tmp) / "unpacked")
        entries = convert(root, args.out_dir)
    update_manifest(args.out_dir / "manifest.json", entries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
