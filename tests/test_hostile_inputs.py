"""Hostile and careless input on every command: one `error:` line, no traceback, nothing written
outside the intended place, no partial output, the inputs untouched.

Each case builds its inputs in a fresh folder, runs the real `lgan` entry point there and
compares a snapshot of the whole test folder (every file's bytes, every link) before and
after: a case may add only the files it lists (e.g. a batch's failures.csv) and may change
nothing. Hostile names aim at the folder above the working folder, so an escape shows up.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import pickle
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from conftest import prepare_examples, run_cli

CASES: dict[str, Case] = {}


@dataclass(frozen=True)
class Case:
    setup: Callable  # (box, fixtures) -> list of CLI arguments
    may_add: tuple[str, ...] = ()  # glob patterns (relative to the box) of files the case may create
    codes: tuple[int, ...] = (1,)
    mentions: str = ""  # a word the error line must contain


def case(category: str, may_add: tuple[str, ...] = (), codes: tuple[int, ...] = (1,), mentions: str = ""):
    def register(setup: Callable) -> Callable:
        CASES[f"{category}-{setup.__name__.removeprefix('_')}"] = Case(setup, may_add, codes, mentions)
        return setup

    return register


@dataclass(frozen=True)
class Fixtures:
    face: Path  # a small photo with one face
    model: Path  # a tiny untrained checkpoint folder (64 px, neutral + happy)
    run: Path  # a run folder of `lgan train` with its training state
    prepared: Path  # the example photos prepared at 64 px


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory, example_photos) -> Fixtures:
    from lgan_cli.models.checkpoint import save_inference
    from lgan_cli.models.config import ModelConfig
    from lgan_cli.models.generators import LandmarkGAN

    root = tmp_path_factory.mktemp("hostile-fixtures")
    face = root / "face.jpg"
    Image.open(example_photos[0]).convert("RGB").resize((256, 256)).save(face, quality=95)
    model = root / "model"
    save_inference(
        LandmarkGAN(
            ModelConfig(resolution=64, expressions=("neutral", "happy"), generator_width=8, discriminator_width=8)
        ),
        model,
    )
    (root / "data").mkdir()
    prepare_examples(root / "data", example_photos, test_ids=None)
    prepared = root / "data" / "prepared"
    recipe = root / "recipe.json"
    recipe.write_text(
        json.dumps(
            {
                "model": {"resolution": 64, "generator_width": 8, "discriminator_width": 8},
                "loss": {"identity": False},
                "data": {"dataset": "folder", "prepared": str(prepared)},
                "train": {"epochs": 1, "max_steps": 2, "sample_every": 0, "validate_every": 0, "checkpoint_every": 0},
            }
        )
    )

    class Quiet:  # run_cli wants a capsys; pytest's own capture keeps the output
        def readouterr(self):
            return type("Captured", (), {"out": "", "err": ""})()

    code, _, _ = run_cli(
        ["train", "--config", recipe, "--out", root / "runs", "--name", "tiny", "--device", "cpu"], Quiet()
    )
    assert code == 0
    (run,) = (root / "runs").iterdir()
    return Fixtures(face=face, model=model, run=run, prepared=prepared)


# ----------------------------------------------------------------------------- helpers


def photo(box: Path, fx: Fixtures, name: str = "face.jpg") -> Path:
    target = box / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(fx.face, target)
    return target


def model_copy(
    box: Path, fx: Fixtures, config: object = None, weights: bytes | None = None, raw_config: bytes | None = None
) -> Path:
    """The tiny checkpoint copied into the box, with its config.json or weights replaced."""
    folder = box / "model"
    shutil.copytree(fx.model, folder)
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    if raw_config is not None:
        (folder / "config.json").write_bytes(raw_config)
    if weights is not None:
        (folder / "model.safetensors").write_bytes(weights)
    return folder


def config_with(fx: Fixtures, **model) -> dict:
    document = json.loads((fx.model / "config.json").read_text())
    document["model"].update(model)
    return document


def weights_of(**settings) -> bytes:
    from safetensors.torch import save

    from lgan_cli.models.config import ModelConfig
    from lgan_cli.models.generators import LandmarkGAN

    model = LandmarkGAN(
        ModelConfig(**{"resolution": 64, "expressions": ("neutral", "happy"), "generator_width": 8, **settings})
    )
    return save({k: v.contiguous() for k, v in model.state_dict().items()})


def safetensors_header(header: bytes, body: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header)) + header + body


def run_copy(box: Path, fx: Fixtures) -> Path:
    folder = box / "run"
    shutil.copytree(fx.run, folder)
    return folder


def deep_json(depth: int = 100_000) -> bytes:
    return b"[" * depth + b"]" * depth


def csv_dataset(box: Path, fx: Fixtures, rows: list[str], files: tuple[str, ...] = ("a.jpg",)) -> Path:
    data = box / "data"
    for name in files:
        photo(data, fx, name)
    (data / "labels.csv").write_text("path,identity,expression\n" + "".join(row + "\n" for row in rows))
    return data


def index_with(box: Path, fx: Fixtures, change: Callable[[dict], object]) -> Path:
    folder = box / "prepared"
    shutil.copytree(fx.prepared, folder)
    document = json.loads((folder / "index.json").read_text())
    replaced = change(document)
    (folder / "index.json").write_text(json.dumps(document if replaced is None else replaced))
    return folder


class Evil:
    """A pickle that would run a shell command if it were ever unpickled unsafely."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


LONG = "x" * 300


# ----------------------------------------------------------------------------- output paths


@case("paths", mentions="directory")
def _edit_out_empty(box, fx):
    return ["edit", photo(box, fx), "--expr", "happy", "--model", fx.model, "--out", ""]


@case("paths", mentions="directory")
def _edit_out_dot(box, fx):
    return ["edit", photo(box, fx), "--expr", "happy", "--model", fx.model, "--out", "."]


@case("paths", mentions="directory")
def _edit_out_root(box, fx):
    return ["edit", photo(box, fx), "--expr", "happy", "--model", fx.model, "--out", "/"]


@case("paths", mentions="directory")
def _edit_out_existing_folder(box, fx):
    (box / "results").mkdir()
    return ["edit", photo(box, fx), "--expr", "happy", "--model", fx.model, "--out", box / "results"]


@case("paths", mentions="writable")
def _edit_out_in_proc(box, fx):
    return ["edit", photo(box, fx), "--expr", "happy", "--model", fx.model, "--out", "/proc/lgan-test.png"]


@case("paths", mentions="too long")
def _edit_out_name_too_long(box, fx):
    return ["edit", photo(box, fx), "--expr", "happy", "--model", fx.model, "--out", box / f"{LONG}.png"]


@case("paths", mentions="too long")
def _edit_input_name_too_long_for_default_output(box, fx):
    source = photo(box, fx, "y" * 250 + ".jpg")
    return ["edit", source, "--expr", "happy", "--model", fx.model]


@case("paths", mentions="is a file")
def _edit_out_under_a_file(box, fx):
    (box / "notes").write_text("a file")
    return ["edit", photo(box, fx), "--expr", "happy", "--model", fx.model, "--out", box / "notes" / "x.png"]


@case("paths", mentions="does not exist")
def _edit_out_in_missing_folder(box, fx):
    return ["edit", photo(box, fx), "--expr", "happy", "--model", fx.model, "--out", box / "missing" / "x.png"]


@case("paths", mentions="input")
def _edit_out_is_the_input_even_with_force(box, fx):
    source = photo(box, fx)
    return ["edit", source, "--expr", "happy", "--model", fx.model, "--out", source, "--force"]


@case("paths", mentions="same file")
def _edit_save_landmarks_names_the_output(box, fx):
    return [
        "edit",
        photo(box, fx),
        "--expr",
        "happy",
        "--model",
        fx.model,
        "--out",
        box / "x.png",
        "--save-landmarks",
        box / "x.png",
    ]


@case("paths", mentions="input")
def _edit_save_landmarks_names_the_input(box, fx):
    source = photo(box, fx)
    return ["edit", source, "--expr", "happy", "--model", fx.model, "--save-landmarks", source, "--force"]


@case("paths", mentions="input")
def _edit_compare_strip_would_replace_the_input(box, fx):
    source = photo(box, fx, "x_compare.png")
    return ["edit", source, "--expr", "happy", "--model", fx.model, "--out", box / "x.png", "--compare", "--force"]


@case("paths", mentions="--force")
def _edit_existing_output_without_force(box, fx):
    (box / "x.png").write_bytes(b"keep me")
    return ["edit", photo(box, fx), "--expr", "happy", "--model", fx.model, "--out", box / "x.png"]


@case("paths", mentions="same file")
def _landmarks_json_and_overlay_same_file(box, fx):
    return ["landmarks", photo(box, fx), "--json", box / "a.png", "--overlay", box / "a.png"]


@case("paths", mentions="writable")
def _landmarks_overlay_in_proc(box, fx):
    return ["landmarks", photo(box, fx), "--overlay", "/proc/lgan-overlay.png"]


@case("paths", mentions="directory")
def _landmarks_json_is_a_folder(box, fx):
    (box / "points").mkdir()
    return ["landmarks", photo(box, fx), "--json", box / "points"]


@case("paths", mentions="input")
def _landmarks_overlay_is_the_input(box, fx):
    source = photo(box, fx)
    return ["landmarks", source, "--overlay", source, "--force"]


@case("paths", mentions=".gif or .mp4")
def _animate_out_wrong_suffix(box, fx):
    return ["animate", photo(box, fx), "--expr", "happy", "--model", fx.model, "--out", box / "a.txt"]


@case("paths", mentions="directory")
def _animate_out_is_a_folder(box, fx):
    (box / "a.gif").mkdir()
    return ["animate", photo(box, fx), "--expr", "happy", "--model", fx.model, "--out", box / "a.gif"]


@case("paths", mentions="too long")
def _animate_out_name_too_long(box, fx):
    return ["animate", photo(box, fx), "--expr", "happy", "--model", fx.model, "--out", box / f"{LONG}.gif"]


@case("paths", mentions="directory")
def _eval_json_is_a_folder(box, fx):
    (box / "report").mkdir()
    return ["eval", "--model", "copy", "--dataset", "folder", "--prepared", fx.prepared, "--json", box / "report"]


@case("paths", mentions="writable")
def _eval_json_in_proc(box, fx):
    return [
        "eval",
        "--model",
        "copy",
        "--dataset",
        "folder",
        "--prepared",
        fx.prepared,
        "--json",
        "/proc/lgan-eval.json",
    ]


# ----------------------------------------------------------------------------- names that become file names


@case("names", mentions="expression name")
def _edit_expr_climbs_out(box, fx):
    return ["edit", photo(box, fx), "--expr", "../../escaped", "--model", "copy"]


@case("names", mentions="expression name")
def _batch_expr_climbs_out(box, fx):
    photo(box / "in", fx)
    return ["batch", box / "in", "--expr", "../../escaped", "--model", "copy", "--out", box / "out"]


@case("names", mentions="expression name")
def _batch_expr_with_slash(box, fx):
    photo(box / "in", fx)
    return ["batch", box / "in", "--expr", "a/b", "--model", "copy", "--out", box / "out"]


@case("names", mentions="expression name")
def _animate_expr_with_backslash(box, fx):
    return ["animate", photo(box, fx), "--expr", "..\\x", "--model", "copy", "--out", box / "a.gif"]


@case("names", mentions="expression name")
def _batch_model_expression_climbs_out(box, fx):
    photo(box / "in", fx)
    model = model_copy(box, fx, config_with(fx, expressions=["neutral", "../../../escaped"]))
    return ["batch", box / "in", "--all-expressions", "--model", model, "--out", box / "out"]


@case("names", mentions="expression name")
def _edit_model_expression_climbs_out(box, fx):
    model = model_copy(box, fx, config_with(fx, expressions=["neutral", "../escaped"]))
    return ["edit", photo(box, fx), "--expr", "../escaped", "--model", model]


@case("names", mentions="expression name")
def _batch_model_expression_absolute(box, fx):
    photo(box / "in", fx)
    model = model_copy(box, fx, config_with(fx, expressions=["neutral", "/tmp/escaped"]))
    return ["batch", box / "in", "--all-expressions", "--model", model, "--out", box / "out"]


@case("names", mentions="expression name")
def _model_expression_with_newline(box, fx):
    model = model_copy(box, fx, config_with(fx, expressions=["neutral", "hap\npy"]))
    return ["edit", photo(box, fx), "--expr", "neutral", "--model", model]


@case("names", mentions="expression name")
def _model_expression_very_long(box, fx):
    model = model_copy(box, fx, config_with(fx, expressions=["neutral", "h" * 200]))
    return ["edit", photo(box, fx), "--expr", "neutral", "--model", model]


# ----------------------------------------------------------------------------- model checkpoints


@case("checkpoint", mentions="not")
def _config_is_a_list(box, fx):
    return ["edit", photo(box, fx), "--expr", "happy", "--model", model_copy(box, fx, [1, 2, 3])]


@case("checkpoint", mentions="model")
def _config_without_model(box, fx):
    document = config_with(fx)
    del document["model"]
    return ["edit", photo(box, fx), "--expr", "happy", "--model", model_copy(box, fx, document)]


@case("checkpoint", mentions="whole number")
def _config_resolution_is_a_string(box, fx):
    return [
        "batch",
        box,
        "--expr",
        "happy",
        "--out",
        box / "o",
        "--model",
        model_copy(box, fx, config_with(fx, resolution="64")),
    ]


@case("checkpoint", mentions="between")
def _config_negative_width(box, fx):
    return [
        "edit",
        photo(box, fx),
        "--expr",
        "happy",
        "--model",
        model_copy(box, fx, config_with(fx, generator_width=-8)),
    ]


@case("checkpoint", mentions="between")
def _config_terabyte_width(box, fx):
    return [
        "edit",
        photo(box, fx),
        "--expr",
        "happy",
        "--model",
        model_copy(box, fx, config_with(fx, generator_width=10**9)),
    ]


@case("checkpoint", mentions="parameters")
def _config_too_many_parameters(box, fx):
    model = model_copy(box, fx, config_with(fx, resolution=512, generator_width=256, max_width_multiplier=8))
    return ["edit", photo(box, fx), "--expr", "happy", "--model", model]


@case("checkpoint", mentions="channels")
def _config_too_wide_layer(box, fx):
    model = model_copy(box, fx, config_with(fx, generator_width=512, max_width_multiplier=16))
    return ["animate", photo(box, fx), "--expr", "happy", "--model", model, "--out", box / "a.gif"]


@case("checkpoint", mentions="number")
def _config_infinite_radius(box, fx):
    model = model_copy(
        box,
        fx,
        raw_config=json.dumps(config_with(fx))
        .replace('"landmark_radius_at_256": 4.0', '"landmark_radius_at_256": Infinity')
        .encode(),
    )
    return ["edit", photo(box, fx), "--expr", "happy", "--model", model]


@case("checkpoint", mentions="unknown")
def _config_unknown_setting(box, fx):
    return ["edit", photo(box, fx), "--expr", "happy", "--model", model_copy(box, fx, config_with(fx, wormhole=1))]


@case("checkpoint", mentions="nested")
def _config_deeply_nested(box, fx):
    return ["edit", photo(box, fx), "--expr", "happy", "--model", model_copy(box, fx, raw_config=deep_json())]


@case("checkpoint", mentions="list")
def _config_nested_list_for_layers(box, fx):
    return [
        "edit",
        photo(box, fx),
        "--expr",
        "happy",
        "--model",
        model_copy(box, fx, config_with(fx, discriminator_layers=[[[3]]])),
    ]


@case("checkpoint", mentions="cannot read")
def _config_binary_garbage(box, fx):
    return ["edit", photo(box, fx), "--expr", "happy", "--model", model_copy(box, fx, raw_config=bytes(range(256)) * 4)]


@case("checkpoint", mentions="cannot read")
def _config_empty(box, fx):
    return ["edit", photo(box, fx), "--expr", "happy", "--model", model_copy(box, fx, raw_config=b"")]


@case("checkpoint", mentions="too big")
def _config_huge(box, fx):
    return [
        "edit",
        photo(box, fx),
        "--expr",
        "happy",
        "--model",
        model_copy(box, fx, raw_config=b" " * (2 << 20) + b"{}"),
    ]


@case("checkpoint", mentions="safetensors")
def _weights_truncated(box, fx):
    whole = (fx.model / "model.safetensors").read_bytes()
    return ["edit", photo(box, fx), "--expr", "happy", "--model", model_copy(box, fx, weights=whole[: len(whole) // 2])]


@case("checkpoint", mentions="safetensors")
def _weights_empty(box, fx):
    return ["batch", box, "--expr", "happy", "--out", box / "o", "--model", model_copy(box, fx, weights=b"")]


@case("checkpoint", mentions="safetensors")
def _weights_are_a_renamed_pickle(box, fx):
    return ["edit", photo(box, fx), "--expr", "happy", "--model", model_copy(box, fx, weights=pickle.dumps(Evil()))]


@case("checkpoint", mentions="safetensors")
def _weights_header_bad_json(box, fx):
    return [
        "edit",
        photo(box, fx),
        "--expr",
        "happy",
        "--model",
        model_copy(box, fx, weights=safetensors_header(b"{not json")),
    ]


@case("checkpoint", mentions="safetensors")
def _weights_offsets_out_of_range(box, fx):
    header = json.dumps({"g_l.pdm.mean": {"dtype": "F32", "shape": [10**6], "data_offsets": [0, 4 * 10**6]}}).encode()
    return [
        "edit",
        photo(box, fx),
        "--expr",
        "happy",
        "--model",
        model_copy(box, fx, weights=safetensors_header(header, b"\0" * 16)),
    ]


@case("checkpoint", mentions="safetensors")
def _weights_header_length_huge(box, fx):
    return [
        "edit",
        photo(box, fx),
        "--expr",
        "happy",
        "--model",
        model_copy(box, fx, weights=struct.pack("<Q", 2**62) + b"{}"),
    ]


@case("checkpoint", mentions="implies")
def _weights_of_another_width(box, fx):
    return [
        "edit",
        photo(box, fx),
        "--expr",
        "happy",
        "--model",
        model_copy(box, fx, weights=weights_of(generator_width=16)),
    ]


@case("checkpoint", mentions="does not match")
def _weights_missing_tensors(box, fx):
    from safetensors.torch import load, save

    tensors = load((fx.model / "model.safetensors").read_bytes())
    tensors.pop("g_e.decoder.head.1.weight")
    return [
        "eval",
        "--model",
        model_copy(box, fx, weights=save(tensors)),
        "--dataset",
        "folder",
        "--prepared",
        fx.prepared,
    ]


@case("checkpoint", mentions="not found")
def _model_path_missing(box, fx):
    return ["edit", photo(box, fx), "--expr", "happy", "--model", "./no-such-model"]


@case("checkpoint", mentions="model")
def _models_push_broken_config(box, fx):
    return ["models", "push", model_copy(box, fx, raw_config=b"{"), "--repo-id", "me/x"]


@case("checkpoint", mentions="offline")
def _models_push_odd_training_data(box, fx):
    return ["models", "push", model_copy(box, fx, {**config_with(fx), "training_data": [1, 2]}), "--repo-id", "me/x"]


# ------------------------------------------------------------------------ training: --resume, --config, --init-from


@case("train", mentions="--init-from")
def _resume_without_training_state(box, fx):
    run = run_copy(box, fx)
    (run / "training_state.pt").unlink()
    return ["train", "--resume", run, "--device", "cpu"]


@case("train", mentions="training state")
def _resume_state_is_garbage(box, fx):
    run = run_copy(box, fx)
    (run / "training_state.pt").write_bytes(os.urandom(4096))
    return ["train", "--resume", run, "--device", "cpu"]


@case("train", mentions="safely")
def _resume_state_is_a_hostile_pickle(box, fx):
    run = run_copy(box, fx)
    (run / "training_state.pt").write_bytes(pickle.dumps(Evil()))
    return ["train", "--resume", run, "--device", "cpu"]


@case("train", mentions="training state")
def _resume_state_lacks_parts(box, fx):
    import torch

    run = run_copy(box, fx)
    torch.save({"step": 3, "epoch": 0, "position": 0}, run / "training_state.pt")
    return ["train", "--resume", run, "--device", "cpu"]


@case("train", mentions="does not fit")
def _resume_state_of_another_model(box, fx):
    import torch

    run = run_copy(box, fx)
    state = torch.load(run / "training_state.pt", weights_only=True)
    state["generators"] = {"g_l.pdm.mean": torch.zeros(3)}
    torch.save(state, run / "training_state.pt")
    return ["train", "--resume", run, "--device", "cpu"]


@case("train", mentions="same checkpoint")
def _resume_old_state_with_foreign_weights(box, fx):
    import torch

    run = run_copy(box, fx)
    state = torch.load(run / "training_state.pt", weights_only=True)
    del state["generators"]  # as saved before states held the generators: needs its own weights
    torch.save(state, run / "training_state.pt")
    shutil.copy(fx.model / "model.safetensors", run / "model.safetensors")  # weights of another checkpoint
    return ["train", "--resume", run, "--device", "cpu"]


@case("train", mentions="no such run")
def _resume_missing_folder(box, fx):
    return ["train", "--resume", box / "runs" / "00009-gone"]


@case("train", mentions="unknown")
def _resume_config_damaged(box, fx):
    run = run_copy(box, fx)
    document = json.loads((run / "config.json").read_text())
    document["run"]["train"]["warp_drive"] = True
    (run / "config.json").write_text(json.dumps(document))
    return ["train", "--resume", run, "--device", "cpu"]


@case("train", mentions="JSON object")
def _config_recipe_is_a_list(box, fx):
    (box / "recipe.json").write_text("[]")
    return ["train", "--config", box / "recipe.json", "--out", box / "runs"]


@case("train", mentions="whole number")
def _config_recipe_epochs_text(box, fx):
    (box / "recipe.json").write_text(json.dumps({"train": {"epochs": "ten"}}))
    return ["train", "--config", box / "recipe.json", "--out", box / "runs"]


@case("train", mentions="between")
def _config_recipe_huge_model(box, fx):
    (box / "recipe.json").write_text(json.dumps({"model": {"generator_width": 2**40}}))
    return ["train", "--config", box / "recipe.json", "--out", box / "runs"]


@case("train", mentions="batch_size must be at least 1")
def _config_recipe_batch_of_zero(box, fx):
    (box / "recipe.json").write_text(json.dumps({"train": {"batch_size": 0}}))
    return ["train", "--config", box / "recipe.json", "--out", box / "runs"]


@case("train", mentions="test_fraction")
def _config_recipe_holds_everyone_out(box, fx):
    (box / "recipe.json").write_text(json.dumps({"data": {"test_fraction": 0.7, "val_fraction": 0.5}}))
    return ["train", "--config", box / "recipe.json", "--out", box / "runs"]


@case("train", mentions="unknown")
def _config_recipe_unknown_section(box, fx):
    (box / "recipe.json").write_text(json.dumps({"optimiser": {}}))
    return ["train", "--config", box / "recipe.json", "--out", box / "runs"]


@case("train", mentions="nested")
def _config_recipe_deeply_nested(box, fx):
    (box / "recipe.json").write_bytes(deep_json())
    return ["train", "--config", box / "recipe.json", "--out", box / "runs"]


@case("train", mentions="implies", may_add=("runs",))
def _init_from_mismatched_weights(box, fx):
    model = model_copy(box, fx, weights=weights_of(generator_width=16))
    return ["train", "--config", fx.run / "config.json", "--init-from", model, "--out", box / "runs", "--device", "cpu"]


# ----------------------------------------------------------------------------- prepared indexes


@case("index", mentions="not an lgan prepared")
def _index_is_a_list(box, fx):
    return ["eval", "--model", "copy", "--dataset", "folder", "--prepared", index_with(box, fx, lambda d: [d])]


@case("index", mentions="inside the prepared folder")
def _index_crop_climbs_out(box, fx):
    def change(document):
        document["items"][0]["crop"] = "../../../etc/passwd"

    return ["eval", "--model", "copy", "--dataset", "folder", "--prepared", index_with(box, fx, change)]


@case("index", mentions="points68")
def _index_points_wrong_length(box, fx):
    def change(document):
        document["items"][0]["points68"] = [[1, 2]] * 5

    return ["eval", "--model", "copy", "--dataset", "folder", "--prepared", index_with(box, fx, change)]


@case("index", mentions="resolution")
def _index_resolution_text(box, fx):
    def change(document):
        document["config"]["resolution"] = "64"

    return [
        "train",
        "--config",
        fx.run / "config.json",
        "--prepared",
        index_with(box, fx, change),
        "--out",
        box / "runs",
    ]


@case("index", mentions="cannot read")
def _index_truncated(box, fx):
    folder = index_with(box, fx, lambda d: None)
    text = (folder / "index.json").read_bytes()
    (folder / "index.json").write_bytes(text[: len(text) // 2])
    return ["eval", "--model", "copy", "--dataset", "folder", "--prepared", folder]


@case("index", mentions="usable name")
def _index_expression_climbs_out(box, fx):
    def change(document):
        document["items"][0]["expression"] = "../x"

    return ["eval", "--model", "copy", "--dataset", "folder", "--prepared", index_with(box, fx, change)]


# ----------------------------------------------------------------------------- dataset CSVs


@case("csv", mentions="outside the dataset folder")
def _csv_path_climbs_out(box, fx):
    photo(box, fx, "secret.jpg")
    data = csv_dataset(box, fx, ["a.jpg,p1,neutral", "../secret.jpg,p1,happy"])
    return ["prepare", "--dataset", "folder", "--data-root", data, "--out", box / "prep"]


@case("csv", mentions="outside the dataset folder")
def _csv_absolute_path(box, fx):
    elsewhere = photo(box, fx, "elsewhere.jpg")
    data = csv_dataset(box, fx, ["a.jpg,p1,neutral", f"{elsewhere},p1,happy"])
    return ["prepare", "--dataset", "folder", "--data-root", data, "--out", box / "prep"]


@case("csv", mentions="already listed")
def _csv_duplicate_rows(box, fx):
    data = csv_dataset(box, fx, ["a.jpg,p1,neutral", "./a.jpg,p1,happy"])
    return ["prepare", "--dataset", "folder", "--data-root", data, "--out", box / "prep"]


@case("csv", mentions="share one crop name")
def _csv_names_collide_after_flattening(box, fx):
    data = csv_dataset(box, fx, ["a/b.jpg,p1,neutral", "a__b.jpg,p1,happy"], files=("a/b.jpg", "a__b.jpg"))
    return ["prepare", "--dataset", "folder", "--data-root", data, "--out", box / "prep"]


@case("csv", mentions="share one crop name")
def _csv_names_differ_only_in_suffix(box, fx):
    data = csv_dataset(box, fx, ["x.jpg,p1,neutral", "x.png,p1,happy"], files=("x.jpg", "x.png"))
    return ["prepare", "--dataset", "folder", "--data-root", data, "--out", box / "prep"]


@case("csv", mentions="usable name")
def _csv_expression_climbs_out(box, fx):
    data = csv_dataset(box, fx, ["a.jpg,p1,../../x"])
    return ["prepare", "--dataset", "folder", "--data-root", data, "--out", box / "prep"]


@case("csv", mentions="UTF-8")
def _csv_binary_garbage(box, fx):
    (box / "labels.csv").write_bytes(b"path,identity,expression\n\xff\xfe\x00garbage\n")
    return ["prepare", "--dataset", "folder", "--data-root", box / "labels.csv", "--out", box / "prep"]


@case("csv", mentions="header")
def _csv_missing_columns(box, fx):
    (box / "labels.csv").write_text("file,who\na.jpg,p1\n")
    return ["prepare", "--dataset", "folder", "--data-root", box / "labels.csv", "--out", box / "prep"]


@case("csv", mentions="not found")
def _prepare_missing_root(box, fx):
    return ["prepare", "--dataset", "london", "--data-root", box / "nowhere", "--out", box / "prep"]


@case("csv", mentions="Not a directory")
def _prepare_out_is_a_file(box, fx):
    data = csv_dataset(box, fx, ["a.jpg,p1,neutral"])
    (box / "prep").write_text("a file")
    return ["prepare", "--dataset", "folder", "--data-root", data, "--out", box / "prep"]


# ----------------------------------------------------------------------------- batch


@case("batch", mentions="is a file")
def _batch_out_is_a_file(box, fx):
    photo(box / "in", fx)
    (box / "out").write_text("a file")
    return ["batch", box / "in", "--expr", "happy", "--model", "copy", "--out", box / "out"]


@case("batch", mentions="input folder")
def _batch_out_is_the_input_folder(box, fx):
    photo(box / "in", fx)
    return ["batch", box / "in", "--expr", "happy", "--model", "copy", "--out", box / "in"]


@case("batch", mentions="replace each other")
def _batch_names_differ_only_in_case_of_suffix(box, fx):
    photo(box / "in", fx, "a.jpg")
    photo(box / "in", fx, "a.JPG")
    return ["batch", box / "in", "--expr", "happy", "--model", fx.model, "--out", box / "out"]


@case("batch", mentions="replace each other")
def _batch_contact_sheets_collide(box, fx):
    photo(box / "in", fx, "a.jpg")
    photo(box / "in", fx, "a.png")
    return ["batch", box / "in", "--expr", "happy", "--model", fx.model, "--out", box / "out", "--grid"]


@case("batch", mentions="no photos")
def _batch_empty_folder(box, fx):
    (box / "in").mkdir()
    return ["batch", box / "in", "--expr", "happy", "--model", fx.model, "--out", box / "out"]


@case("batch", mentions="none of the 2 photos", may_add=("out", "out/failures.csv"))
def _batch_every_photo_broken(box, fx):
    (box / "in").mkdir()
    (box / "in" / "a.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    (box / "in" / "b.png").write_bytes(b"")
    return ["batch", box / "in", "--expr", "happy", "--model", fx.model, "--out", box / "out"]


@case("batch", mentions="symbolic links", may_add=("out", "out/failures.csv"))
def _batch_symlink_loop(box, fx):
    (box / "in" / "sub").mkdir(parents=True)
    (box / "in" / "l1.jpg").symlink_to("l2.jpg")
    (box / "in" / "l2.jpg").symlink_to("l1.jpg")
    (box / "in" / "sub" / "up").symlink_to("..")
    return ["batch", box / "in", "--expr", "happy", "--model", fx.model, "--out", box / "out"]


@case("batch", mentions="cannot create")
def _batch_out_in_proc(box, fx):
    photo(box / "in", fx)
    return ["batch", box / "in", "--expr", "happy", "--model", fx.model, "--out", "/proc/lgan-batch"]


@case("batch", mentions="not a folder")
def _batch_missing_input(box, fx):
    return ["batch", box / "nowhere", "--expr", "happy", "--model", "copy", "--out", box / "out"]


@case("batch", mentions="too long")
def _batch_out_name_too_long(box, fx):
    photo(box / "in", fx)
    return ["batch", box / "in", "--expr", "happy", "--model", "copy", "--out", box / LONG]


@case("batch", mentions="output name too long", may_add=("out", "out/failures.csv"))
def _batch_output_name_too_long(box, fx):
    photo(box / "in", fx, "z" * 250 + ".jpg")
    return ["batch", box / "in", "--expr", "happy", "--model", fx.model, "--out", box / "out"]


@case("batch", mentions="outside --out", may_add=("out/failures.csv",))
def _batch_output_tree_links_outside(box, fx):
    photo(box / "in" / "link", fx)
    (box / "out").mkdir()
    (box / "elsewhere").mkdir()
    (box / "out" / "link").symlink_to(box / "elsewhere")
    return ["batch", box / "in", "--expr", "happy", "--model", fx.model, "--out", box / "out"]


# ----------------------------------------------------------------------------- photos and options


@case("input", mentions="folder")
def _landmarks_on_a_folder(box, fx):
    return ["landmarks", box]


@case("input", mentions="empty")
def _landmarks_on_an_empty_file(box, fx):
    (box / "e.jpg").write_bytes(b"")
    return ["landmarks", box / "e.jpg"]


@case("input", mentions="image")
def _edit_on_random_bytes(box, fx):
    (box / "r.jpg").write_bytes(os.urandom(2048))
    return ["edit", box / "r.jpg", "--expr", "happy", "--model", fx.model]


@case("input", mentions="face")
def _landmarks_face_number_out_of_range(box, fx):
    return ["landmarks", photo(box, fx), "--face", "7"]


@case("input", mentions="--face")
def _edit_face_option_garbage(box, fx):
    return ["edit", photo(box, fx), "--expr", "happy", "--model", fx.model, "--face", "-1"]


@case("input", mentions="does not know")
def _edit_unknown_expression(box, fx):
    return ["edit", photo(box, fx), "--expr", "sleepy", "--model", fx.model]


@case("input", mentions="baseline")
def _edit_with_the_copy_baseline(box, fx):
    return ["edit", photo(box, fx), "--expr", "happy", "--model", "copy"]


@case("input", codes=(2,))
def _batch_workers_zero(box, fx):
    return ["batch", box, "--expr", "happy", "--out", box / "o", "--workers", "0"]


# ----------------------------------------------------------------------------- the check


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under `root`: a file's sha256, a link's target, or 'dir' (links not followed)."""
    entries = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                entries[key] = "link:" + os.readlink(path)
            elif path.is_dir():
                entries[key] = "dir"
            else:
                entries[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return entries


def test_the_corpus_is_large_and_covers_every_command():
    assert len(CASES) >= 60
    for command in ("edit", "batch", "animate", "landmarks", "eval", "train", "prepare", "models"):
        assert any(command in name for name in CASES), command


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input(name, fixtures, tmp_path, capsys, monkeypatch):
    spec = CASES[name]
    box = tmp_path / "work"
    box.mkdir()
    monkeypatch.chdir(box)
    monkeypatch.setenv("LGAN_OFFLINE", "1")  # not HF_HUB_OFFLINE: huggingface_hub would keep it from its import on
    args = spec.setup(box, fixtures)
    before = snapshot(tmp_path)
    code, stdout, stderr = run_cli(args, capsys)

    assert code in spec.codes, (code, stderr)
    assert "Traceback" not in stdout + stderr and "weights_only=False" not in stderr
    if code == 1:
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, stderr
        assert spec.mentions in errors[0], errors[0]
    else:
        assert "Error" in stderr, stderr
    after = snapshot(tmp_path)
    changed = sorted(key for key in before if after.get(key) != before[key])
    assert not changed, f"changed or removed: {changed}"
    allowed = [f"work/{pattern}" for pattern in spec.may_add]
    added = sorted(key for key in after if key not in before and not any(fnmatch.fnmatch(key, p) for p in allowed))
    assert not added, f"written outside the intended place or left behind: {added}"
    assert not (box / "pwned").exists()
