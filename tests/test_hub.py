"""Model registry, Hub download / push and `lgan models`, with the real huggingface_hub client
against a small local server that speaks the Hub's resolve, create-repo, preupload and commit
endpoints for the repos a test puts in it.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import http.server
import json
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import torch
import yaml

from lgan_cli import hub
from lgan_cli.assets import sha256_file
from lgan_cli.data.adapters import DATASET_LICENCES
from lgan_cli.errors import LganError
from lgan_cli.hub import KnownModel, push_model, resolve_model
from lgan_cli.model_card import model_card
from lgan_cli.model_files import CONFIG_NAME, WEIGHTS_NAME
from lgan_cli.models.checkpoint import save_inference
from lgan_cli.models.config import ModelConfig
from lgan_cli.models.generators import LandmarkGAN
from lgan_cli.models.load import load_editor

from conftest import run_cli

REPO = "owner/tiny"


# --------------------------------------------------------------------------- a tiny Hub


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class FakeRepo:
    files: dict[str, bytes]
    tags: set[str] = field(default_factory=set)
    gated: bool = False
    private: bool = False
    commit: str = ""
    history: list[str] = field(default_factory=list)

    def new_commit(self) -> None:
        listing = b"".join(name.encode() + hashlib.sha256(data).digest() for name, data in sorted(self.files.items()))
        self.commit = hashlib.sha1(listing + str(len(self.history)).encode()).hexdigest()
        self.history.append(self.commit)

    def knows(self, revision: str) -> bool:
        return revision in {"main", self.commit, *self.tags}


class FakeHub:
    """The repos the server serves and every request it saw, as (method, path)."""

    def __init__(self) -> None:
        self.url = ""
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[tuple[str, str]] = []
        self.validated_cards: list[str] = []

    def add_repo(self, repo_id: str, files: dict[str, bytes], **options) -> FakeRepo:
        repo = FakeRepo(dict(files), **options)
        repo.new_commit()
        self.repos[repo_id] = repo
        return repo

    def seen(self, method: str) -> list[str]:
        return [path for verb, path in self.requests if verb == method]


class HubHandler(http.server.BaseHTTPRequestHandler):
    """GET/HEAD /{repo}/resolve/{rev}/{file}, and the POSTs HfApi.create_repo / create_commit make."""

    server_version = "FakeHub/1"

    @property
    def hub(self) -> FakeHub:
        return self.server.hub  # type: ignore[attr-defined]

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_HEAD(self) -> None:  # noqa: N802 (stdlib name)
        self._resolve(send_body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._resolve(send_body=True)

    def do_POST(self) -> None:  # noqa: N802
        self.hub.requests.append(("POST", self.path))
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        path = urlsplit(self.path).path
        if path == "/api/repos/create":
            return self._create_repo(json.loads(body))
        if path == "/api/validate-yaml":
            self.hub.validated_cards.append(json.loads(body)["content"])
            return self._json(200, {"errors": [], "warnings": []})
        if path.startswith("/api/models/") and "/preupload/" in path:
            files = json.loads(body)["files"]
            return self._json(
                200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
            )
        if path.startswith("/api/models/") and "/commit/" in path:
            repo_id = unquote(path[len("/api/models/") :].split("/commit/")[0])
            return self._commit(repo_id, body)
        self._json(404, {"error": "not implemented by the fake hub"})

    # ----------------------------------------------------------------- resolve

    def _resolve(self, send_body: bool) -> None:
        self.hub.requests.append((self.command, self.path))
        path = urlsplit(self.path).path
        if "/resolve/" not in path:
            return self._error(404, "EntryNotFound", send_body=send_body)
        repo_id, _, rest = path.lstrip("/").partition("/resolve/")
        revision, _, filename = rest.partition("/")
        repo = self.hub.repos.get(unquote(repo_id))
        if repo is None:
            return self._error(404, "RepoNotFound", send_body=send_body)
        if repo.gated:
            return self._error(403, "GatedRepo", send_body=send_body)
        if not repo.knows(unquote(revision)):
            return self._error(404, "RevisionNotFound", send_body=send_body)
        data = repo.files.get(unquote(filename))
        if data is None:
            return self._error(404, "EntryNotFound", send_body=send_body, headers={"X-Repo-Commit": repo.commit})
        headers = {"X-Repo-Commit": repo.commit, "Content-Type": "application/octet-stream"}
        if filename.endswith(".safetensors"):  # an LFS file: the Hub gives its sha256 and size as well
            sha256 = hashlib.sha256(data).hexdigest()
            headers |= {"ETag": f'"{sha256}"', "X-Linked-Etag": f'"{sha256}"', "X-Linked-Size": str(len(data))}
        else:
            headers["ETag"] = f'"{git_blob_sha1(data)}"'
        self._send(200, data, headers, send_body)

    def _error(self, status: int, code: str, *, send_body: bool, headers: dict | None = None) -> None:
        body = json.dumps({"error": code}).encode()
        self._send(
            status, body, {"X-Error-Code": code, "Content-Type": "application/json", **(headers or {})}, send_body
        )

    # ----------------------------------------------------------------- upload

    def _create_repo(self, payload: dict) -> None:
        repo_id = f"{payload['organization']}/{payload['name']}"
        if repo_id in self.hub.repos:
            return self._json(409, {"error": "You already created this model repo", "url": f"{self.hub.url}/{repo_id}"})
        self.hub.add_repo(repo_id, {}, private=payload.get("visibility") == "private")
        self._json(200, {"url": f"{self.hub.url}/{repo_id}"})

    def _commit(self, repo_id: str, body: bytes) -> None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            return self._error(404, "RepoNotFound", send_body=True)
        for line in body.splitlines():
            item = json.loads(line)
            if item["key"] == "file":
                value = item["value"]
                assert value["encoding"] == "base64"
                repo.files[value["path"]] = base64.b64decode(value["content"])
            elif item["key"] != "header":
                return self._json(400, {"error": f"the fake hub does not take {item['key']}"})
        repo.new_commit()
        self._json(
            200,
            {"commitUrl": f"{self.hub.url}/{repo_id}/commit/{repo.commit}", "commitOid": repo.commit, "success": True},
        )

    # ----------------------------------------------------------------- plumbing

    def _json(self, status: int, document: dict) -> None:
        self._send(status, json.dumps(document).encode(), {"Content-Type": "application/json"}, True)

    def _send(self, status: int, body: bytes, headers: dict, send_body: bool) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)


@pytest.fixture()
def fake_hub(tmp_path, monkeypatch):
    """A running fake Hub, HF_ENDPOINT pointing at it, and the Hub cache + bundled weights in tmp_path."""
    import huggingface_hub.constants

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HubHandler)
    server.hub = FakeHub()  # type: ignore[attr-defined]
    server.hub.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", server.hub.url)  # type: ignore[attr-defined]
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("LGAN_WEIGHTS_DIR", str(tmp_path / "weights"))
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "LGAN_OFFLINE", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    # huggingface_hub 2.x fetches an "agent harness" list from its import-time endpoint (the real
    # Hub) when it builds a User-Agent; telemetry off skips that, so the test talks to nobody else.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_TELEMETRY", True)
    yield server.hub  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A real (tiny, untrained) inference checkpoint, as `lgan train` writes it."""
    folder = tmp_path_factory.mktemp("ckpt") / "run-tiny"
    torch.manual_seed(0)
    model = LandmarkGAN(ModelConfig(resolution=64, expressions=("neutral", "happy"), generator_width=8))
    info = {"training_data": {"dataset": "london", "licence": DATASET_LICENCES["london"], "test_ids": ["001", "003"]}}
    save_inference(model, folder, info=info)
    return folder


def checkpoint_files(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in (CONFIG_NAME, WEIGHTS_NAME)}


def sha256s(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def register(monkeypatch, name: str, **fields) -> KnownModel:
    model = KnownModel(name=name, **{"repo_id": REPO, "revision": "main", "licence": "CC BY 4.0", **fields})
    monkeypatch.setitem(hub.registry(), name, model)
    return model


# --------------------------------------------------------------------------- registry and local paths


def test_registry_lists_the_default_model():
    model = hub.registry()[hub.DEFAULT_MODEL]
    assert hub.DEFAULT_MODEL == "london-warp-128"
    assert model.repo_id == "lgan-project/landmarkgan-london-warp-128" and model.expressions == ("neutral", "happy")
    assert model.bundled_dir == "lgan-london-warp-128" and "CC BY 4.0" in model.licence
    # the bundled copy is the one the registry pins, and it resolves offline
    bundled = hub.bundled_folder(model)
    assert bundled is not None and set(model.files) == {CONFIG_NAME, WEIGHTS_NAME}
    assert all(sha256_file(bundled / name) == digest for name, digest in model.files.items())
    assert resolve_model(None, offline=True) == bundled
    assert hub.MODEL_FILES == (CONFIG_NAME, WEIGHTS_NAME)


def test_a_broken_registry_breaks_no_import():
    """The registry is read on first use: with an unreadable file every module still imports
    (so commands on local checkpoints still start); only a registry look-up fails, in one line."""
    import subprocess
    import sys

    script = (
        "import pathlib\n"
        "real = pathlib.Path.read_text\n"
        "def damaged(self, *args, **kwargs):\n"
        "    if self.name == 'models_registry.json':\n"
        "        raise OSError('damaged')\n"
        "    return real(self, *args, **kwargs)\n"
        "pathlib.Path.read_text = damaged\n"
        "import lgan_cli.hub as hub, lgan_cli.cli.app, lgan_cli.models.load\n"
        "try:\n    hub.registry()\nexcept hub.LganError as exc:\n    print('refused:', exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=Path(__file__).parents[1]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused: cannot read the model registry") and len(result.stdout.splitlines()) == 1


def test_local_paths_resolve_to_their_folder(checkpoint, fake_hub):
    for spec in (checkpoint, checkpoint / CONFIG_NAME, checkpoint / WEIGHTS_NAME):
        assert resolve_model(str(spec)) == checkpoint
    with pytest.raises(LganError, match="not found"):
        resolve_model(str(checkpoint / "missing"))
    with pytest.raises(LganError) as info:
        resolve_model("no-such-model")
    assert "london-128" in str(info.value) and "hf:owner/repo" in str(info.value)
    assert fake_hub.requests == []


def test_bundled_model_is_used_without_network(checkpoint, fake_hub, monkeypatch, tmp_path):
    shutil.copytree(checkpoint, tmp_path / "weights" / "lgan-london-128")
    files = checkpoint_files(checkpoint)
    register(monkeypatch, hub.DEFAULT_MODEL, files=sha256s(files), bundled_dir="lgan-london-128", on_hub=False)
    assert resolve_model(None) == tmp_path / "weights" / "lgan-london-128"
    assert not fake_hub.seen("GET") and not fake_hub.seen("HEAD")  # verified bundled copy: no network
    # listed checksums that the bundled files fail send resolve_model to the Hub instead
    fake_hub.add_repo(REPO, files)
    register(monkeypatch, hub.DEFAULT_MODEL, files={WEIGHTS_NAME: "0" * 64}, bundled_dir="lgan-london-128")
    with pytest.raises(LganError, match="corrupt"):
        resolve_model(None)
    assert fake_hub.seen("GET")  # it did try the Hub copy


# --------------------------------------------------------------------------- downloads


def test_first_download_lands_in_the_cache_checked(checkpoint, fake_hub, monkeypatch, tmp_path):
    files = checkpoint_files(checkpoint)
    fake_hub.add_repo(REPO, files)
    register(monkeypatch, "tiny", files=sha256s(files))
    folder = resolve_model("tiny")
    assert folder.is_relative_to(tmp_path / "hf-home" / "hub")
    assert {name: (folder / name).read_bytes() for name in files} == files
    assert fake_hub.seen("GET") == [
        f"/{REPO}/resolve/main/{CONFIG_NAME}",
        f"/{REPO}/resolve/{folder.name}/{WEIGHTS_NAME}",
    ]
    assert folder.name == fake_hub.repos[REPO].commit  # both files of one commit


def test_second_resolve_reuses_the_cache(checkpoint, fake_hub, monkeypatch):
    fake_hub.add_repo(REPO, checkpoint_files(checkpoint))
    first = resolve_model(f"hf:{REPO}")
    downloads = len(fake_hub.seen("GET"))
    fake_hub.requests.clear()
    assert resolve_model(f"hf:{REPO}") == first
    assert fake_hub.seen("GET") == [] and downloads == 2
    assert fake_hub.seen("HEAD") == [f"/{REPO}/resolve/main/{CONFIG_NAME}"]  # weights pinned by commit: no request


def test_offline_uses_the_cache_only(checkpoint, fake_hub, monkeypatch):
    fake_hub.add_repo(REPO, checkpoint_files(checkpoint))
    online = resolve_model(f"hf:{REPO}")
    fake_hub.requests.clear()
    assert resolve_model(f"hf:{REPO}", offline=True) == online
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_model(f"hf:{REPO}") == online
    assert fake_hub.requests == []
    fake_hub.add_repo("owner/other", checkpoint_files(checkpoint))
    with pytest.raises(LganError) as info:
        resolve_model("hf:owner/other")
    message = str(info.value)
    assert "offline" in message and "lgan models download hf:owner/other" in message and "\n" not in message
    assert fake_hub.requests == []


def test_corrupted_download_is_caught_by_sha256(checkpoint, fake_hub, monkeypatch):
    files = checkpoint_files(checkpoint)
    register(monkeypatch, "tiny", files=sha256s(files))
    altered = bytearray(files[WEIGHTS_NAME])
    altered[-1] ^= 0xFF  # same size, one byte flipped in the tensor data
    fake_hub.add_repo(REPO, {**files, WEIGHTS_NAME: bytes(altered)})
    with pytest.raises(LganError) as info:
        resolve_model("tiny")
    message = str(info.value)
    assert "corrupt" in message and "pinned checksum" in message and "\n" not in message
    cached = list((Path(hub.hub_cache_dir()) / "models--owner--tiny" / "snapshots").glob("*/" + WEIGHTS_NAME))
    assert len(cached) == 1 and cached[0].read_bytes() == bytes(altered)  # nothing deleted


@pytest.mark.parametrize(
    ("spec", "setup", "expected"),
    [
        ("hf:nobody/nothing", None, "Hub repository nobody/nothing not found"),
        (f"hf:{REPO}@v9", "full", "revision 'v9' not found"),
        (f"hf:{REPO}", "config-only", "has no model.safetensors"),
        (f"hf:{REPO}", "gated", "HF_TOKEN"),
        ("hf:not a repo", None, "hf:owner/repo"),
        ("london-128", None, "not published yet"),
    ],
)
def test_hub_errors_are_one_line(checkpoint, fake_hub, spec, setup, expected):
    files = checkpoint_files(checkpoint)
    if setup == "full":
        fake_hub.add_repo(REPO, files)
    elif setup == "config-only":
        fake_hub.add_repo(REPO, {CONFIG_NAME: files[CONFIG_NAME]})
    elif setup == "gated":
        fake_hub.add_repo(REPO, files, gated=True)
    with pytest.raises(LganError) as info:
        resolve_model(spec)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_unreachable_hub_suggests_the_bundled_model_and_offline(monkeypatch, fake_hub):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)  # huggingface_hub's backoff, 23 s in all
    with pytest.raises(LganError) as info:
        resolve_model(f"hf:{REPO}")
    message = str(info.value)
    assert "cannot reach" in message and "london-warp-128" in message and "--offline" in message and "\n" not in message
    assert waits == [1, 2, 4, 8, 8]  # huggingface_hub 2.x retries an unreachable Hub 5 times before giving up


def test_load_editor_from_a_hub_tag(checkpoint, fake_hub):
    fake_hub.add_repo(REPO, checkpoint_files(checkpoint), tags={"v1"})
    editor = load_editor(f"hf:{REPO}@v1", "cpu")
    assert editor.name == f"{REPO}@v1" and editor.resolution == 64 and editor.expressions == ("neutral", "happy")
    crops = torch.rand(1, 3, 64, 64) * 2 - 1
    points = torch.rand(1, 68, 2) * 40 + 12
    with torch.no_grad():
        result = editor.edit(crops, points, ["happy"], [None])
    assert result.images.shape == (1, 3, 64, 64) and torch.isfinite(result.images).all()
    assert load_editor("copy", "cpu").name == "copy"
    with pytest.raises(LganError, match="baselines are copy, geometry"):
        load_editor("nonsense", "cpu")


# --------------------------------------------------------------------------- CLI


def test_models_list_and_download_cli(checkpoint, fake_hub, monkeypatch, capsys):
    code, out, err = run_cli(["models", "list"], capsys)
    assert code == 0, err
    assert "london-warp-128 (default 1)" in out and "london-all-warp-128 (default 2)" in out
    assert "neutral, happy" in out and "not published" in out
    files = checkpoint_files(checkpoint)
    fake_hub.add_repo(REPO, files)
    register(monkeypatch, "tiny", files=sha256s(files))
    assert hub.model_location(hub.registry()["tiny"]) == "remote"
    code, out, err = run_cli(["models", "download", "tiny", "--offline"], capsys)
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1 and "offline" in err
    code, out, err = run_cli(["models", "download", "tiny"], capsys)
    assert code == 0, err
    assert (Path(out.strip()) / WEIGHTS_NAME).is_file()
    assert hub.model_location(hub.registry()["tiny"]) == "cached"
    code, out, err = run_cli(["models", "download", f"hf:{REPO}", "--offline"], capsys)
    assert code == 0, err
    code, out, _ = run_cli(["models", "list"], capsys)
    assert code == 0 and "cached" in out
    assert run_cli(["models", "download", "./tiny"], capsys)[0] == 1  # downloads take names, not paths


# --------------------------------------------------------------------------- model card and push


def eval_document() -> dict:
    overall = {
        "pairs": 36,
        "psnr": 21.09,
        "ssim": 0.675,
        "lpips": 0.0448,
        "landmark_distance": 2.71,
        "face_found": 1.0,
        "identity_cosine": 0.9851,
        "verified": 1.0,
        "expression_correct": 0.139,
        "smile": 0.363,
    }
    return {
        "model": "run-tiny",
        "dataset": "prepared/london-128",
        "split": "test",
        "resolution": 128,
        "pairs": 36,
        "methods": {
            "run-tiny": {"overall": {**overall, "psnr": 23.5, "landmark_distance": None}},
            "copy": {"overall": overall},
        },
    }


def test_model_card_has_licence_attribution_and_metrics(checkpoint):
    config = json.loads((checkpoint / CONFIG_NAME).read_text())
    card = model_card(config, eval_document())
    front = yaml.safe_load(card.split("---")[1])
    assert front["license"] == "cc-by-4.0" and front["library_name"] == "lgan"
    assert front["tags"] == ["facial-expression", "landmarkgan", "image-to-image"] and front["datasets"] == ["london"]
    assert "DeBruine" in card and "https://doi.org/10.6084/m9.figshare.5047666.v5" in card
    assert "64 x 64 px" in card and "neutral, happy" in card and "001, 003" in card
    assert "| method | pairs | PSNR ↑ |" in card
    assert (
        "| run-tiny | 36 | 23.50 | 0.6750 | 0.0448 | - |" in card
        and "| copy | 36 | 21.09 |" in card
        and "100.0%" in card
    )
    assert "No evaluation" in model_card(config, None)
    restricted = {**config, "training_data": {"dataset": "rafd", "licence": DATASET_LICENCES["rafd"]}}
    assert yaml.safe_load(model_card(restricted, None).split("---")[1])["license"] == "other"
    assert "synthetic renders" not in card and "- Training:" not in card  # no run settings recorded
    assert "softer than the photo" not in card  # its LPIPS equals the copy baseline's
    softer = eval_document()
    softer["methods"]["run-tiny"]["overall"]["lpips"] = 0.0778
    assert "their LPIPS to the real target photo is 0.078, against 0.045" in model_card(config, softer)


def test_model_card_of_a_synthetic_intensity_model(checkpoint):
    config = json.loads((checkpoint / CONFIG_NAME).read_text())
    config["training_data"] = {"dataset": "ict-synth", "licence": DATASET_LICENCES["ict-synth"]}
    config["run"] = {
        "train": {
            "epochs": 12,
            "batch_size": 4,
            "seed": 0,
            "landmark_warmup_steps": 6000,
            "init_from": "runs/00002-first",
        }
    }
    levelled = eval_document()
    level = {
        "pairs": 7,
        "psnr": 25.0,
        "ssim": 0.8,
        "lpips": 0.05,
        "landmark_distance": 3.25,
        "face_found": 1.0,
        "identity_cosine": 0.95,
        "verified": 1.0,
        "expression_correct": 0.5,
        "smile": 0.1,
    }
    levelled["methods"]["run-tiny"]["per_target_intensity"] = {"1": level, "4": {**level, "landmark_distance": 6.5}}
    card = model_card(config, levelled)
    front = yaml.safe_load(card.split("---")[1])
    assert front["license"] == "mit" and front["datasets"] == ["ict-synth"]
    assert "ICT-FaceKit" in card and "synthetic renders" in card
    assert "By target intensity level (run-tiny" in card
    assert "- Training: 12 epochs, batch 4, seed 0" in card and "after 6000 warm-up steps of G_l" in card
    assert "started from the generators of the earlier run `00002-first`" in card
    assert "| 1 | 7 | 25.00 | 0.8000 | 0.0500 | 3.25 |" in card and "| 4 | 7 | 25.00 | 0.8000 | 0.0500 | 6.50 |" in card


def test_push_uploads_exactly_three_files_then_downloads(checkpoint, fake_hub, monkeypatch, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(checkpoint, run)
    (run / "training_state.pt").write_bytes(b"not for the hub")
    (run / "eval.json").write_text(json.dumps(eval_document()))
    url = push_model(run, "me/pushed", private=True, commit_message="first")
    repo = fake_hub.repos["me/pushed"]
    assert url == f"{fake_hub.url}/me/pushed/commit/{repo.commit}"
    assert repo.private and sorted(repo.files) == ["README.md", CONFIG_NAME, WEIGHTS_NAME]
    assert repo.files[WEIGHTS_NAME] == (run / WEIGHTS_NAME).read_bytes()
    card = repo.files["README.md"].decode()
    assert card == fake_hub.validated_cards[0] and "| copy | 36 | 21.09 |" in card
    # pushing again reuses the repo (create_repo answers 409, exist_ok) and makes a new commit
    assert push_model(run, "me/pushed") != url
    folder = resolve_model("hf:me/pushed")
    assert (folder / WEIGHTS_NAME).read_bytes() == (run / WEIGHTS_NAME).read_bytes()
    with pytest.raises(LganError, match="owner/name"):
        push_model(run, "no-owner")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(LganError, match="offline"):
        push_model(run, "me/pushed")


def test_push_cli_warns_about_restricted_data(checkpoint, fake_hub, tmp_path, capsys):
    run = tmp_path / "rafd-run"
    shutil.copytree(checkpoint, run)
    config = json.loads((run / CONFIG_NAME).read_text())
    config["training_data"] = {"dataset": "rafd", "licence": DATASET_LICENCES["rafd"], "test_ids": None}
    (run / CONFIG_NAME).write_text(json.dumps(config))
    code, out, err = run_cli(["models", "push", run, "--repo-id", "me/rafd"], capsys)
    assert code == 0, err
    assert "warning" in err and "Radboud" in err and out.strip().startswith(f"{fake_hub.url}/me/rafd/commit/")


def test_known_models_are_frozen():
    model = hub.registry()[hub.DEFAULT_MODEL]
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.revision = "x"  # type: ignore[misc]


def test_the_default_model_is_the_first_bundled_default_that_knows_the_request():
    """Without --model: london-warp-128 for neutral <-> happy, the all-expressions model for the
    others and for action-unit mixes."""
    from lgan_cli.hub import DEFAULT_MODELS, default_model_for, registry

    assert default_model_for(["happy"]) == default_model_for(["neutral", "happy"]) == DEFAULT_MODELS[0]
    assert default_model_for(["surprised"]) == default_model_for(["happy", "sad"]) == "london-all-warp-128"
    assert default_model_for(["neutral"], action_units=True) == "london-all-warp-128"
    assert all(name in registry() and registry()[name].bundled_dir for name in DEFAULT_MODELS)


def test_model_card_says_when_the_learned_flow_keeps_the_landmarks_motion(checkpoint):
    config = json.loads((checkpoint / CONFIG_NAME).read_text())
    warp = {**config, "model": {**config["model"], "renderer": "warp", "synthesis_region": "mouth"}}
    assert "never cancel it" not in model_card(warp, None)
    keeps = {**warp, "model": {**warp["model"], "residual_keeps_motion": True}}
    assert "never cancel it (`residual_keeps_motion`)" in model_card(keeps, None)
    unet = {**config, "model": {**config["model"], "renderer": "unet", "residual_keeps_motion": True}}
    assert "never cancel it" not in model_card(unet, None)
    smoothed = {**warp, "model": {**warp["model"], "colour_smoothing": 1.0}}
    assert "blurred (a Gaussian of sigma 1 crop px, `colour_smoothing`)" in model_card(smoothed, None)
    assert "inside the face's outline" not in model_card(warp, None)
    confined = {**warp, "model": {**warp["model"], "residual_region": "face"}}
    assert "acts only inside the face's outline (`residual_region: face`)" in model_card(confined, None)
    assert "landmark_base" not in model_card(warp, None)
    fitted = {**warp, "model": {**warp["model"], "landmark_base": "fitted"}}
    assert "G_l takes the geometry of the 3D face model fitted to the face" in model_card(fitted, None)
