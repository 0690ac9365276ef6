"""Where the bundled third-party files live, and the sha256-checked fallback download.

Bundled files sit in the repository's `weights/` folder (listed in weights/manifest.json).
`LGAN_WEIGHTS_DIR` points elsewhere; a file missing there is fetched once from its official
URL into the user cache, unless offline (`LGAN_OFFLINE=1` or `HF_HUB_OFFLINE=1`).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lgan_cli.errors import LganError

REPO_WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
REPO_EXAMPLES_DIR = REPO_WEIGHTS_DIR.parent / "examples"
_EXAMPLE_PHOTO = re.compile(r"london_\d+_(neutral|smiling)\.jpg|synth\d+_neutral\.png")


@dataclass(frozen=True)
class Asset:
    """A third-party file we can use offline when bundled and otherwise download and verify."""

    name: str
    sha256: str
    url: str
    fetch_hint: str


FACE_LANDMARKER = Asset(
    name="face_landmarker.task",
    sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
    url="https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task",
    fetch_hint="python scripts/fetch_face_landmarker.py",
)


def example_photos() -> list[Path]:
    """The bundled example photos (examples/README.md), sorted; not the edits that the README's
    commands write beside them (`london_001_neutral_happy.jpg`)."""
    return sorted(path for path in REPO_EXAMPLES_DIR.iterdir() if _EXAMPLE_PHOTO.fullmatch(path.name))


def weights_dir() -> Path:
    return Path(os.environ.get("LGAN_WEIGHTS_DIR", REPO_WEIGHTS_DIR))


def cache_dir() -> Path:
    base = os.environ.get("LGAN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "lgan"
    )
    return Path(base)


def offline() -> bool:
    return any(os.environ.get(v, "").lower() in {"1", "true", "yes", "on"} for v in ("LGAN_OFFLINE", "HF_HUB_OFFLINE"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=None)
def _verified(path: Path, sha256: str) -> bool:
    return path.is_file() and sha256_file(path) == sha256


def find_verified(name: str, sha256: str, fetch_hint: str, folders: tuple[Path, ...] | None = None) -> Path | None:
    """The first copy of `name` in `folders` (default: weights dir, repository weights/, user
    cache), checked against its sha256; None when there is none. A corrupt copy is an error,
    never silently skipped."""
    for folder in dict.fromkeys(folders or (weights_dir(), REPO_WEIGHTS_DIR, cache_dir())):
        candidate = Path(folder) / name
        if candidate.is_file():
            if _verified(candidate, sha256):
                return candidate
            raise LganError(f"{candidate} is corrupt (sha256 mismatch); delete it and run `{fetch_hint}`")
    return None


def local_file(name: str, sha256: str, fetch_hint: str) -> Path:
    """A verified local file with no download fallback (files we convert ourselves)."""
    found = find_verified(name, sha256, fetch_hint)
    if found is None:
        raise LganError(f"{name} is not in {weights_dir()} nor {cache_dir()}; run `{fetch_hint}`")
    return found


def asset_path(asset: Asset) -> Path:
    """Return a verified local copy of `asset`: bundled, cached, or freshly downloaded."""
    found = find_verified(asset.name, asset.sha256, asset.fetch_hint)
    if found is not None:
        return found
    if offline():
        raise LganError(f"{asset.name} is not in {weights_dir()} and offline mode is on; run `{asset.fetch_hint}`")
    return download_asset(asset, cache_dir())


def download_asset(asset: Asset, folder: Path) -> Path:
    """Download to a temporary file, check the sha256, then rename into place."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / asset.name
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{asset.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(asset.url, timeout=60) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
        got = sha256_file(Path(tmp_name))
        if got != asset.sha256:
            raise LganError(f"downloaded {asset.name} has sha256 {got}, expected {asset.sha256}; not used")
        os.replace(tmp_name, target)
    except (urllib.error.URLError, OSError) as exc:
        raise LganError(
            f"{asset.name} is not bundled and could not be downloaded from {asset.url} ({exc}); "
            f"run `{asset.fetch_hint}`"
        ) from None
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return target
