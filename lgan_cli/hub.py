"""Known models, and getting them from / putting them on the Hugging Face Hub.

A model is a folder holding `config.json` + `model.safetensors` (see `lgan_cli.model_files`).
`resolve_model` turns what the user typed into such a folder:

- nothing -> the default model (`DEFAULT_MODEL`);
- a registry name (`lgan_cli/models_registry.json`) -> the bundled copy under `weights_dir()`,
  else a download from the model's pinned Hub repo and revision, sha256-checked;
- a path (a run folder, a checkpoint folder or one of its two files) -> that folder;
- `hf:owner/repo[@revision]` -> a download from any Hub repo holding those two files.

Only those two files are ever downloaded (never anything pickled). huggingface_hub keeps them
in its cache and reads HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_ENDPOINT and HF_HUB_OFFLINE. It reads
most of those once, when it is imported, so this module reads HF_ENDPOINT and the cache
location again at each call and passes them on: a process (or a test) that sets them later is
still honoured. Every failure is a one-line `LganError`.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from lgan_cli.assets import offline as offline_from_env
from lgan_cli.assets import sha256_file, weights_dir
from lgan_cli.errors import LganError
from lgan_cli.model_card import hub_licence_id, model_card
from lgan_cli.model_files import CONFIG_NAME, MODEL_FILES, WEIGHTS_NAME, checkpoint_files, read_checkpoint_config

log = logging.getLogger(__name__)

CARD_FILE = "README.md"
EVAL_FILE = "eval.json"

HF_PREFIX = "hf:"


class UnknownModelError(LganError):
    """A --model value that is no registry name, no existing path and no hf: spec."""


REGISTRY_PATH = Path(__file__).with_name("models_registry.json")
DEFAULT_MODELS = ("london-warp-128", "london-all-warp-128")
"""The bundled defaults, best first: without --model, a photo command uses the first that knows
every expression asked for (`default_model_for`). london-warp-128 is the better neutral <-> happy
editor (it paints nothing, and neutralises more smiles); london-all-warp-128 knows all eight."""
DEFAULT_MODEL = DEFAULT_MODELS[0]

_SHA256 = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


@dataclass(frozen=True)
class KnownModel:
    """A published (or about to be published) lgan model: where it lives and what it may be used for."""

    name: str
    repo_id: str
    revision: str  # a pinned 40-hex commit or a tag; "main" only before the first release
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256; {} = not yet published
    licence: str = "unknown"
    expressions: tuple[str, ...] = ()
    description: str = ""
    bundled_dir: str | None = None  # relative to weights_dir()
    on_hub: bool | None = None  # None: published exactly when checksums are listed

    @property
    def published(self) -> bool:
        """On the Hub. A bundled model lists its checksums before it is uploaded (on_hub false)."""
        return bool(self.files) if self.on_hub is None else self.on_hub


def load_registry(path: Path = REGISTRY_PATH) -> dict[str, KnownModel]:
    """Read the registry JSON, so adding a model is an edit to data rather than code."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise LganError(f"cannot read the model registry {path}: {exc}") from None
    registry = {}
    for name, entry in document.get("models", {}).items():
        model = KnownModel(
            name=name,
            repo_id=entry["repo_id"],
            revision=entry.get("revision", "main"),
            files=dict(entry.get("files", {})),
            licence=entry.get("licence", "unknown"),
            expressions=tuple(entry.get("expressions", ())),
            description=entry.get("description", ""),
            bundled_dir=entry.get("bundled_dir"),
            on_hub=entry.get("published"),
        )
        _check_entry(model, path)
        registry[name] = model
    return registry


def _check_entry(model: KnownModel, path: Path) -> None:
    unknown = set(model.files) - set(MODEL_FILES)
    bad = [name for name, digest in model.files.items() if not _SHA256.fullmatch(digest)]
    if unknown or bad or not _REPO_ID.fullmatch(model.repo_id):
        raise LganError(f"{path}: bad entry {model.name!r} (repo_id, or files must map {MODEL_FILES} to sha256 hex)")


@functools.cache
def registry() -> dict[str, KnownModel]:
    """The known models, read from `REGISTRY_PATH` on first use (a broken file breaks no import)."""
    return load_registry(REGISTRY_PATH)


def default_model_for(expressions: list[str] | None = None, action_units: bool = False) -> str:
    """The default model for a request: the first of DEFAULT_MODELS that knows every expression
    in it (all of them for an action-unit mix, which can ask for any motion); else the last."""
    from lgan_cli.data.records import RAFD_EXPRESSIONS

    wanted = set(RAFD_EXPRESSIONS if action_units else expressions or ())
    known = registry()
    for name in DEFAULT_MODELS:
        if name in known and wanted <= set(known[name].expressions):
            return name
    return DEFAULT_MODELS[-1]


# --------------------------------------------------------------------------- resolving


def resolve_model(spec: str | None, *, offline: bool = False, cache_dir: str | Path | None = None) -> Path:
    """A local folder holding config.json + model.safetensors for `spec` (see the module docstring).

    A registry name wins over a same-named folder in the current directory; write `./NAME` for
    the folder. `offline` (or LGAN_OFFLINE / HF_HUB_OFFLINE) uses the Hub cache only.
    """
    offline = offline or offline_from_env()
    if spec is None:
        spec = DEFAULT_MODEL
    if not spec.strip():
        raise UnknownModelError(f"empty model name: {known_names_hint()}")
    if spec.startswith(HF_PREFIX):
        repo_id, revision = parse_hf_spec(spec)
        return _download(repo_id, revision, expected={}, offline=offline, cache_dir=cache_dir, label=spec)
    if spec in registry():
        return _resolve_known(registry()[spec], offline=offline, cache_dir=cache_dir)
    return _resolve_local(spec)


def download_model(name: str, *, cache_dir: str | Path | None = None, offline: bool = False) -> Path:
    """Fetch a registry model (or `hf:owner/repo[@rev]`) into the Hub cache, for later offline use.

    A registry model that is bundled and intact needs no download: its bundled folder is returned.
    """
    if name not in registry() and not name.startswith(HF_PREFIX):
        raise UnknownModelError(f"unknown model {name!r}: {known_names_hint()}")
    return resolve_model(name, offline=offline, cache_dir=cache_dir)


def model_display_name(spec: str | None) -> str:
    """A short name for an editor: the registry name, the Hub repo, or the checkpoint's folder name."""
    if spec is None:
        return DEFAULT_MODEL
    if spec.startswith(HF_PREFIX):
        return spec[len(HF_PREFIX) :]
    if spec in registry():
        return spec
    path = Path(spec).expanduser()
    return path.name if path.is_dir() else path.parent.name


def parse_hf_spec(spec: str) -> tuple[str, str | None]:
    """`hf:owner/repo@revision` -> ("owner/repo", "revision"); the revision is optional."""
    body = spec[len(HF_PREFIX) :] if spec.startswith(HF_PREFIX) else spec
    repo_id, at, revision = body.partition("@")
    if not _REPO_ID.fullmatch(repo_id) or (at and not revision):
        raise LganError(f"{spec!r} is not a Hub model: write hf:owner/repo or hf:owner/repo@revision")
    return repo_id, revision or None


def _resolve_known(model: KnownModel, *, offline: bool, cache_dir: str | Path | None) -> Path:
    """The bundled copy when it is there and intact, else the pinned Hub download."""
    bundled = bundled_folder(model)
    if bundled is not None:
        mismatched = _mismatched_files(bundled, model.files)
        if not mismatched:
            return bundled
        log.warning("%s: %s do not match the registry's sha256; using the Hub copy", bundled, ", ".join(mismatched))
    return _download(
        model.repo_id, model.revision, expected=model.files, offline=offline, cache_dir=cache_dir, label=model.name
    )


def bundled_folder(model: KnownModel) -> Path | None:
    """The model's folder under weights_dir() if both files are there (not checked against sha256)."""
    if model.bundled_dir is None:
        return None
    folder = weights_dir() / model.bundled_dir
    return folder if all((folder / name).is_file() for name in MODEL_FILES) else None


def _resolve_local(spec: str) -> Path:
    path = Path(spec).expanduser()
    if not path.exists():
        if _looks_like_path(spec):
            raise LganError(f"model {spec!r} not found: no such file or folder")
        raise UnknownModelError(f"unknown model {spec!r}: {known_names_hint()}")
    config, _ = checkpoint_files(path)
    return config.parent


def _looks_like_path(spec: str) -> bool:
    return os.sep in spec or "/" in spec or spec.startswith((".", "~")) or spec.endswith((".json", ".safetensors"))


def known_names_hint() -> str:
    names = ", ".join(sorted(registry())) or "none"
    return (
        f"known models are {names}; a run or checkpoint folder (or its config.json / model.safetensors) "
        "and hf:owner/repo[@revision] work too (see `lgan models list`)"
    )


def _mismatched_files(folder: Path, expected: dict[str, str]) -> list[str]:
    return [name for name, digest in expected.items() if sha256_file(folder / name) != digest]


# --------------------------------------------------------------------------- downloading


def hub_endpoint() -> str | None:
    """HF_ENDPOINT as it is now (huggingface_hub froze its copy at import); None = the library's default."""
    value = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/")
    return value or None


def hub_cache_dir(cache_dir: str | Path | None = None) -> str | None:
    """The Hub cache folder as the environment says now: HF_HUB_CACHE, else HF_HOME/hub; None = default."""
    if cache_dir is not None:
        return str(Path(cache_dir).expanduser())
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return os.path.expanduser(explicit)
    home = os.environ.get("HF_HOME")
    return os.path.join(os.path.expanduser(home), "hub") if home else None


def _download(
    repo_id: str,
    revision: str | None,
    *,
    expected: dict[str, str],
    offline: bool,
    cache_dir: str | Path | None,
    label: str,
) -> Path:
    """Both files of one commit into the Hub cache; returns their snapshot folder.

    config.json is fetched first; model.safetensors is then fetched at the commit config.json
    came from, so the pair can never mix two commits of a branch that moved in between.
    """
    context = _ErrorContext(label=label, repo_id=repo_id, revision=revision or "main", offline=offline)
    config_path = _fetch_file(repo_id, CONFIG_NAME, revision, cache_dir=cache_dir, offline=offline, context=context)
    commit = config_path.parent.name
    pinned = commit if _COMMIT.fullmatch(commit) else revision
    weights_path = _fetch_file(repo_id, WEIGHTS_NAME, pinned, cache_dir=cache_dir, offline=offline, context=context)
    for path in (config_path, weights_path):
        _verify(path, expected.get(path.name), context)
    if config_path.parent != weights_path.parent:  # only if the cache layout ever changes
        raise LganError(f"{label}: config.json and model.safetensors landed in different folders of the Hub cache")
    return config_path.parent


def _fetch_file(
    repo_id: str,
    filename: str,
    revision: str | None,
    *,
    cache_dir: str | Path | None,
    offline: bool,
    context: _ErrorContext,
) -> Path:
    from huggingface_hub import hf_hub_download

    try:
        path = hf_hub_download(
            repo_id,
            filename,
            revision=revision,
            cache_dir=hub_cache_dir(cache_dir),
            endpoint=hub_endpoint(),
            local_files_only=offline,
            library_name="lgan",
        )
    except Exception as exc:  # noqa: BLE001 - translated to one line below, or re-raised
        raise _as_lgan_error(exc, filename, context) from None
    return Path(path)


def _verify(path: Path, expected: str | None, context: _ErrorContext) -> None:
    """Check a downloaded file against the registry's pinned sha256; never deletes anything."""
    if expected is None:
        return
    got = sha256_file(path)
    if got != expected:
        blob = path.resolve()
        raise LganError(
            f"{path.name} of {context.label} is corrupt: its sha256 {got[:12]}... does not match the pinned checksum "
            f"{expected[:12]}...; delete {blob} and run `lgan models download {context.label}` again"
        )


@dataclass(frozen=True)
class _ErrorContext:
    label: str  # what the user typed: a registry name or hf:owner/repo
    repo_id: str
    revision: str
    offline: bool


def _as_lgan_error(exc: Exception, filename: str, context: _ErrorContext) -> Exception:
    """One line a user can act on, for each way a Hub download fails; unknown errors pass through."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo, label = context.repo_id, context.label
    if isinstance(exc, GatedRepoError):
        return LganError(
            f"{repo} is gated: accept its terms on the Hub page, then set HF_TOKEN to a token of that account"
        )
    if isinstance(exc, RepositoryNotFoundError):
        known = registry().get(label)
        unpublished = " (this model is not published yet)" if known is not None and not known.published else ""
        return LganError(
            f"Hub repository {repo} not found{unpublished}; if it is private, set HF_TOKEN to a token that can read it"
        )
    if isinstance(exc, RevisionNotFoundError):
        return LganError(f"revision {context.revision!r} not found in Hub repository {repo}")
    if isinstance(exc, (LocalEntryNotFoundError, OfflineModeIsEnabled)):
        return LganError(_unavailable_message(filename, context))
    if isinstance(exc, EntryNotFoundError):
        return LganError(f"Hub repository {repo} has no {filename} at {context.revision}: it is not an lgan model")
    if isinstance(exc, HfHubHTTPError):
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        if status in (401, 403):
            return LganError(f"not authorised to read {repo} (HTTP {status}): set HF_TOKEN to a token that can read it")
        return LganError(f"the Hub answered HTTP {status} for {filename} of {repo}; try again later")
    if _is_network_error(exc):
        return LganError(_unavailable_message(filename, context))
    if isinstance(exc, OSError):
        return LganError(f"cannot download {filename} of {repo}: {' '.join(str(exc).split())}")
    return exc


def _unavailable_message(filename: str, context: _ErrorContext) -> str:
    fetch = f"run `lgan models download {context.label}` while online"
    if context.offline:
        return f"{filename} of {context.label} is not in the Hub cache and offline mode is on; {fetch} first"
    return (
        f"cannot reach the Hugging Face Hub for {context.label} and it is not in the cache; check the network, "
        f"use the bundled default model ({DEFAULT_MODEL}), or {fetch} and use --offline later"
    )


def _is_network_error(exc: Exception) -> bool:
    """Transport errors of the HTTP client huggingface_hub uses (httpx2 in 2.x, requests before)."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    return type(exc).__module__.split(".")[0] in {"httpx2", "httpx", "httpcore", "requests", "urllib3"}


# --------------------------------------------------------------------------- status, for `lgan models list`


def model_location(model: KnownModel, cache_dir: str | Path | None = None) -> str:
    """'bundled', 'cached', 'remote' or 'not published': where `resolve_model` would find it (no network)."""
    if bundled_folder(model) is not None:
        return "bundled"
    if is_cached(model.repo_id, model.revision, cache_dir=cache_dir):
        return "cached"
    return "remote" if model.published else "not published"


def is_cached(repo_id: str, revision: str | None, *, cache_dir: str | Path | None = None) -> bool:
    from huggingface_hub import try_to_load_from_cache

    folder = hub_cache_dir(cache_dir)
    found = [try_to_load_from_cache(repo_id, name, cache_dir=folder, revision=revision) for name in MODEL_FILES]
    return all(isinstance(path, str) for path in found)


# --------------------------------------------------------------------------- pushing


def push_model(
    run_or_checkpoint: Path,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    revision: str | None = None,
    commit_message: str = "Upload lgan LandmarkGAN model",
) -> str:
    """Upload config.json, model.safetensors and a generated model card; returns the commit URL.

    Exactly those three files go up, in one commit (never training_state.pt, samples or logs).
    The repo is created if needed. `token` defaults to HF_TOKEN or the stored login.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    folder, config_document = read_checkpoint_config(Path(run_or_checkpoint))
    if offline_from_env():
        raise LganError("cannot push while offline mode is on (LGAN_OFFLINE / HF_HUB_OFFLINE); unset it first")
    if not _REPO_ID.fullmatch(repo_id) or "/" not in repo_id:
        raise LganError(f"--repo-id must look like owner/name, not {repo_id!r}")
    eval_document = _read_eval(folder / EVAL_FILE)
    card = model_card(config_document, eval_document)
    operations = [
        CommitOperationAdd(path_in_repo=CONFIG_NAME, path_or_fileobj=str(folder / CONFIG_NAME)),
        CommitOperationAdd(path_in_repo=WEIGHTS_NAME, path_or_fileobj=str(folder / WEIGHTS_NAME)),
        CommitOperationAdd(path_in_repo=CARD_FILE, path_or_fileobj=card.encode()),
    ]
    api = HfApi(endpoint=hub_endpoint(), token=token, library_name="lgan")
    context = _ErrorContext(label=f"hf:{repo_id}", repo_id=repo_id, revision=revision or "main", offline=False)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        commit = api.create_commit(repo_id, operations, commit_message=commit_message, revision=revision)
    except Exception as exc:  # noqa: BLE001
        raise _as_push_error(exc, context) from None
    return commit.commit_url or f"{api.endpoint}/{repo_id}"


def shareable_licence(run_or_checkpoint: Path) -> str | None:
    """A warning when the training data's licence is not an open one, so public weights may break its terms."""
    _, document = read_checkpoint_config(Path(run_or_checkpoint))
    training_data = document.get("training_data")
    licence = training_data.get("licence") if isinstance(training_data, dict) else None
    licence = licence if isinstance(licence, str) and licence else "unknown"
    if hub_licence_id(licence) != "other":
        return None
    return f"the training data's licence is not an open one ({licence}); check that its terms allow sharing the weights"


def _read_eval(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise LganError(f"cannot read {path} (expected the output of `lgan eval --json`): {exc}") from None


def _as_push_error(exc: Exception, context: _ErrorContext) -> Exception:
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    repo = context.repo_id
    if isinstance(exc, RevisionNotFoundError):
        return LganError(
            f"branch {context.revision!r} does not exist in {repo}; create it first or leave out the revision"
        )
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, RepositoryNotFoundError) or status in (401, 403):
        return LganError(
            f"not authorised to write to {repo}: set HF_TOKEN (or pass --token) to a token with write access"
        )
    if isinstance(exc, HfHubHTTPError):
        return LganError(f"the Hub refused the upload to {repo} (HTTP {status}): {' '.join(str(exc).split())[:200]}")
    if _is_network_error(exc):
        return LganError(f"cannot reach the Hugging Face Hub to upload {repo}; check the network and HF_ENDPOINT")
    return exc
