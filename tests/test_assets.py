"""Bundled assets and the sha256-checked download fallback, against a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from functools import partial

import pytest

from lgan_cli import assets
from lgan_cli.assets import FACE_LANDMARKER, Asset, asset_path, sha256_file, weights_dir
from lgan_cli.errors import LganError

PAYLOAD = b"pretend model bytes " * 1000


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (stdlib name)
        type(self).requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture()
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "model.bin").write_bytes(PAYLOAD)
    (root / "corrupt.bin").write_bytes(PAYLOAD[:-1] + b"!")
    _QuietHandler.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _QuietHandler.requests
    httpd.shutdown()


@pytest.fixture()
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("LGAN_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("LGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LGAN_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assets._verified.cache_clear()
    return tmp_path


def make_asset(url: str, name: str = "model.bin") -> Asset:
    return Asset(
        name="model.bin", sha256=hashlib.sha256(PAYLOAD).hexdigest(), url=f"{url}/{name}", fetch_hint="fetch it"
    )


def test_bundled_landmarker_matches_manifest():
    manifest = json.loads((weights_dir() / "manifest.json").read_text())
    entry = manifest["files"][FACE_LANDMARKER.name]
    assert entry["sha256"] == FACE_LANDMARKER.sha256 == sha256_file(weights_dir() / FACE_LANDMARKER.name)
    assert entry["licence"] == "Apache-2.0"


def test_the_bundled_face_model_is_every_edits_default_without_shared_data(monkeypatch, tmp_path):
    """A checkout edits photos with nothing beside it: the ICT face model every edit fits is
    bundled (MIT), checked against the manifest, and preferred to ../shared; $LGAN_ICT_FACEKIT
    still overrides it."""
    from lgan_cli.synth.facemodel import ENV_VAR, NPZ_NAME, NPZ_SHA256, default_model_path

    manifest = json.loads((weights_dir() / "manifest.json").read_text())
    entry = manifest["files"][NPZ_NAME]
    assert entry["sha256"] == NPZ_SHA256 == sha256_file(weights_dir() / NPZ_NAME) and entry["licence"] == "MIT"
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert default_model_path() == weights_dir() / NPZ_NAME
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "elsewhere.npz"))
    assert default_model_path() == tmp_path / "elsewhere.npz"


def test_example_photos_are_the_bundled_ones_not_the_readmes_edits_beside_them(monkeypatch, tmp_path):
    """The README's first command writes its edit into examples/; the tests and scripts that use
    the example photos must not take it for one (a person id, then 'neutral', 'happy': three parts)."""
    for name in [
        "london_001_neutral.jpg",
        "london_030_smiling.jpg",
        "synth0000_neutral.png",
        "london_001_neutral_happy.jpg",
        "london_001_neutral_happy_compare.png",
        "synth0000_neutral_surprised_i4.png",
        "README.md",
    ]:
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setattr(assets, "REPO_EXAMPLES_DIR", tmp_path)
    assert [p.name for p in assets.example_photos()] == [
        "london_001_neutral.jpg",
        "london_030_smiling.jpg",
        "synth0000_neutral.png",
    ]


def test_download_once_then_reuse(server, isolated):
    url, requests = server
    first = asset_path(make_asset(url))
    assert first.read_bytes() == PAYLOAD and first.parent == isolated / "cache"
    again = asset_path(make_asset(url))
    assert again == first and requests == ["/model.bin"]  # the second call did not download
    assert not list(first.parent.glob("*.part"))


def test_corrupted_download_is_rejected(server, isolated):
    url, _ = server
    with pytest.raises(LganError, match="sha256"):
        asset_path(make_asset(url, "corrupt.bin"))
    assert not (isolated / "cache" / "model.bin").exists()
    assert not list((isolated / "cache").iterdir())  # no partial file left behind


def test_corrupted_local_copy_is_reported(isolated):
    (isolated / "weights").mkdir()
    (isolated / "weights" / "model.bin").write_bytes(b"tampered")
    with pytest.raises(LganError, match="corrupt"):
        asset_path(make_asset("http://127.0.0.1:9"))


def test_offline_mode_never_downloads(server, isolated, monkeypatch):
    url, requests = server
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(LganError, match="offline"):
        asset_path(make_asset(url))
    assert requests == []


def test_unreachable_server_is_one_line_error(server, isolated):
    url, _ = server
    with pytest.raises(LganError) as info:
        asset_path(make_asset(url, "missing.bin"))
    assert "could not be downloaded" in str(info.value) and "\n" not in str(info.value)
