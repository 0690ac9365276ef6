"""`lgan edit`, `lgan batch` and `lgan animate` end to end with a small model trained in the session."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import prepare_examples, run_cli


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, example_photos) -> Path:
    """A 64 px LandmarkGAN trained for a few steps by the real trainer on the example pairs."""
    from lgan_cli.models.config import ModelConfig
    from lgan_cli.train.config import LossConfig, RunConfig, TrainConfig
    from lgan_cli.train.data import PairData
    from lgan_cli.train.trainer import Trainer

    root = tmp_path_factory.mktemp("model")
    dataset = prepare_examples(root, example_photos, test_ids=None)
    config = RunConfig(
        model=ModelConfig(resolution=64, expressions=("neutral", "happy"), generator_width=8, discriminator_width=8),
        loss=LossConfig(identity=False),
        train=TrainConfig(epochs=2, sample_every=0, validate_every=0, checkpoint_every=0),
    )
    run = root / "run"
    run.mkdir()
    Trainer(config, run, PairData(dataset, "train"), torch.device("cpu")).fit()
    return run


@pytest.fixture()
def photo(tmp_path, example_photos) -> Path:
    path = tmp_path / "face.jpg"
    Image.open(example_photos[0]).convert("RGB").resize((500, 500)).save(path, quality=95)
    return path


def test_edit_writes_same_size_and_format_and_keeps_the_rest(tiny_model, photo, tmp_path, capsys):
    before = photo.read_bytes()
    out = tmp_path / "smile.jpg"
    landmarks = tmp_path / "points.json"
    code, stdout, stderr = run_cli(
        [
            "edit",
            photo,
            "--expr",
            "happy",
            "--model",
            tiny_model,
            "--out",
            out,
            "--compare",
            "--save-landmarks",
            landmarks,
        ],
        capsys,
    )
    assert code == 0, stderr
    assert photo.read_bytes() == before  # the input is never touched
    result = Image.open(out)
    assert result.format == "JPEG" and result.size == (500, 500)
    original = np.asarray(Image.open(photo).convert("RGB")).astype(int)
    edited = np.asarray(result.convert("RGB")).astype(int)
    points = np.array(json.loads(landmarks.read_text())["faces"][0]["points68"])
    assert points.shape == (68, 2)
    # far from the face (outside the landmarks' box grown by half its size) nothing changed
    # beyond JPEG re-encoding noise
    x0, y0 = points.min(0)
    x1, y1 = points.max(0)
    w, h = x1 - x0, y1 - y0
    far = np.ones(original.shape[:2], bool)
    far[max(0, int(y0 - h / 2)) : int(y1 + h / 2), max(0, int(x0 - w / 2)) : int(x1 + w / 2)] = False
    assert np.abs(edited - original)[far].mean() < 2.0
    assert np.abs(edited - original)[~far].mean() > np.abs(edited - original)[far].mean()  # the face changed
    strip = Image.open(tmp_path / "smile_compare.png")
    assert strip.size[1] == 512 and strip.size[0] > 3 * 400


def test_edit_refuses_overwrite_and_default_name(tiny_model, photo, capsys):
    code, stdout, stderr = run_cli(["edit", photo, "--expr", "happy", "--model", tiny_model], capsys)
    assert code == 0, stderr
    default = photo.with_name("face_happy.jpg")
    assert default.exists()
    code, stdout, stderr = run_cli(["edit", photo, "--expr", "happy", "--model", tiny_model], capsys)
    assert code == 1 and "--force" in stderr
    code, stdout, stderr = run_cli(
        ["edit", photo, "--expr", "happy", "--model", tiny_model, "--out", photo, "--force"], capsys
    )
    assert code == 1 and "input" in stderr


def test_edit_intensity_scales_the_landmark_displacement(tiny_model, photo, tmp_path, capsys):
    files = {}
    for level in ["0.25", "1.0"]:
        files[level] = tmp_path / f"p{level}.json"
        code, stdout, stderr = run_cli(
            [
                "edit",
                photo,
                "--expr",
                "happy",
                "--model",
                tiny_model,
                "--intensity",
                level,
                "--out",
                tmp_path / f"o{level}.png",
                "--save-landmarks",
                files[level],
            ],
            capsys,
        )
        assert code == 0, stderr
    code, stdout, stderr = run_cli(["landmarks", photo, "--json", tmp_path / "src.json", "--no-mesh"], capsys)
    source = np.array(json.loads((tmp_path / "src.json").read_text())["faces"][0]["points68"])
    quarter = np.array(json.loads(files["0.25"].read_text())["faces"][0]["points68"])
    full = np.array(json.loads(files["1.0"].read_text())["faces"][0]["points68"])
    np.testing.assert_allclose(quarter - source, 0.25 * (full - source), atol=0.05)


def test_exif_rotated_input_comes_out_upright(tiny_model, tmp_path, example_photos, capsys):
    upright = Image.open(example_photos[0]).convert("RGB").resize((400, 480))
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "rotated.jpg", exif=exif)
    code, stdout, stderr = run_cli(
        ["edit", tmp_path / "rotated.jpg", "--expr", "happy", "--model", tiny_model, "--out", tmp_path / "o.jpg"],
        capsys,
    )
    assert code == 0, stderr
    out = Image.open(tmp_path / "o.jpg")
    assert out.size == (400, 480) and out.getexif().get(0x0112) in (None, 1)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--expr", "furious"], "does not know the expression 'furious'; it knows: neutral, happy"),
        (["--expr", "happy", "--device", "cuda"], "cuda"),
        (["--expr", "happy", "--intensity", "7"], "--intensity"),
        (["--expr", "happy", "--out", "/nonexistent-folder/x.jpg"], "does not exist"),
        (["--expr", "happy", "--model", "no-such-model"], "no-such-model"),
        (["--expr", "happy", "--mouth", "shiny"], "--mouth must be one of learned, face-model"),
        (["--expr", "happy", "--model", "geometry", "--mouth", "face-model"], "--mouth needs a warp model"),
    ],
)
def test_edit_errors_are_one_line(tiny_model, photo, capsys, args, message):
    if "--device" in args and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    model = [] if "--model" in args else ["--model", tiny_model]
    code, stdout, stderr = run_cli(["edit", photo, *args, *model], capsys)
    lines = stderr.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], stderr


def test_edit_no_face(tiny_model, tmp_path, capsys):
    Image.new("RGB", (300, 300), (20, 120, 200)).save(tmp_path / "sky.png")
    code, stdout, stderr = run_cli(["edit", tmp_path / "sky.png", "--expr", "happy", "--model", tiny_model], capsys)
    assert code == 1 and "no face" in stderr


def test_batch_mirrors_tree_survives_bad_files_and_resumes(tiny_model, tmp_path, example_photos, capsys):
    source = tmp_path / "in"
    (source / "a").mkdir(parents=True)
    (source / "b" / "c").mkdir(parents=True)
    Image.open(example_photos[0]).convert("RGB").resize((320, 320)).save(source / "a" / "one.jpg")
    Image.open(example_photos[1]).convert("RGB").resize((320, 320)).save(source / "b" / "c" / "two.png")
    (source / "b" / "broken.jpg").write_bytes(b"\xff\xd8\xff not an image")
    out = tmp_path / "out"
    args = ["batch", source, "--all-expressions", "--out", out, "--model", tiny_model, "--grid", "--batch-size", "3"]
    code, stdout, stderr = run_cli(args, capsys)
    assert code == 0, stderr
    for expected in ["a/one_neutral.jpg", "a/one_happy.jpg", "b/c/two_happy.png", "a/one_grid.png"]:
        assert (out / expected).is_file(), expected
    assert Image.open(out / "a" / "one_happy.jpg").size == (320, 320)
    grid = Image.open(out / "a" / "one_grid.png")
    assert grid.size[0] == 3 * 64  # input + two expressions
    rows = list(csv.reader((out / "failures.csv").open()))
    assert rows[0] == ["path", "reason"] and len(rows) == 2 and rows[1][0].endswith("broken.jpg")
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary files left

    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")}
    code, stdout, stderr = run_cli([*args, "--skip-existing"], capsys)
    assert code == 0
    assert "skipped" in stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")} == before  # nothing redone
    code, stdout, stderr = run_cli(args, capsys)  # without --skip-existing or --force: refuse to overwrite
    assert "output exists" in (out / "failures.csv").read_text()


def test_batch_and_animate_take_the_mouth_option(tiny_model, photo, tmp_path, capsys):
    """`--mouth` works the same in `batch` and `animate` as in `edit`: the chosen interior, or a
    one-line error for a bad value or a model without the choice."""
    source = tmp_path / "in"
    source.mkdir()
    Image.open(photo).save(source / "face.jpg")
    args = ["batch", source, "--expr", "happy", "--out", tmp_path / "out", "--model", tiny_model]
    code, _, stderr = run_cli([*args, "--mouth", "face-model"], capsys)
    assert code == 0 and (tmp_path / "out" / "face_happy.jpg").is_file(), stderr
    sweep = ["animate", photo, "--expr", "happy"]
    for command, extra in (
        (args, ["--mouth", "shiny"]),
        ([*sweep, "--out", tmp_path / "a.gif", "--model", tiny_model], ["--mouth", "x"]),
        ([*sweep, "--out", tmp_path / "b.gif", "--model", "geometry"], ["--mouth", "learned"]),
    ):
        code, _, stderr = run_cli([*command, *extra], capsys)
        lines = stderr.strip().splitlines()
        assert code == 1 and len(lines) == 1 and "--mouth" in lines[0], stderr
    assert not (tmp_path / "a.gif").exists() and not (tmp_path / "b.gif").exists()


def test_animate_gif(tiny_model, photo, tmp_path, capsys):
    out = tmp_path / "sweep.gif"
    code, stdout, stderr = run_cli(
        ["animate", photo, "--expr", "happy", "--model", tiny_model, "--out", out, "--frames", "4"], capsys
    )
    assert code == 0, stderr
    gif = Image.open(out)
    assert gif.n_frames == 6  # 0, 1/3, 2/3, 1, 2/3, 1/3
    first = np.asarray(gif.convert("RGB")).astype(int)
    gif.seek(3)
    peak = np.asarray(gif.convert("RGB")).astype(int)
    assert np.abs(peak - first).mean() > 0.5  # the middle frame shows the edit
    code, stdout, stderr = run_cli(
        ["animate", photo, "--expr", "happy", "--model", tiny_model, "--out", tmp_path / "x.avi"], capsys
    )
    assert code == 1 and ".gif or .mp4" in stderr


def test_animate_sweeps_an_action_unit_mix(photo, tmp_path, capsys):
    """`lgan animate --au 26=1`: the jaw opens frame by frame and closes again."""
    out = tmp_path / "jaw.gif"
    code, _, stderr = run_cli(
        ["animate", photo, "--model", "geometry", "--au", "26=1", "--out", out, "--frames", "3"], capsys
    )
    assert code == 0, stderr
    gif = Image.open(out)
    frames = []
    for index in range(gif.n_frames):
        gif.seek(index)
        frames.append(np.asarray(gif.convert("RGB")).astype(int))
    change = [np.abs(frame - frames[0]).mean() for frame in frames]
    assert len(frames) == 4 and 0 < change[1] < change[2] and change[3] == pytest.approx(change[1], rel=0.2)
    code, _, stderr = run_cli(["animate", photo, "--model", "geometry", "--out", out, "--force"], capsys)
    assert code == 1 and "--au" in stderr


def test_readme_first_command_uses_the_bundled_default_model_offline(tmp_path, example_photos, capsys, monkeypatch):
    """No --model, no network: the bundled default edits the example photo at full size."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("LGAN_OFFLINE", "1")
    photo = next(p for p in example_photos if p.name == "london_001_neutral.jpg")
    out = tmp_path / "smile.jpg"
    code, _, stderr = run_cli(["edit", photo, "--expr", "happy", "--out", out, "--device", "cpu"], capsys)
    assert code == 0, stderr
    assert "london-warp-128" in stderr
    assert Image.open(out).size == Image.open(photo).size


def test_animate_mp4(tiny_model, photo, tmp_path, capsys):
    import cv2

    out = tmp_path / "sweep.mp4"
    code, _, stderr = run_cli(
        ["animate", photo, "--expr", "happy", "--model", tiny_model, "--out", out, "--frames", "3"], capsys
    )
    assert code == 0, stderr
    video = cv2.VideoCapture(str(out))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 4 and int(video.get(cv2.CAP_PROP_FRAME_WIDTH)) == 500


def test_bundled_intensity_model_opens_the_mouth_more_at_each_level(tmp_path, capsys, monkeypatch):
    """The README's sweep: `--model ict-synth-128 --expr surprised --intensity 1..4` on the synthetic example."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    photo = Path(__file__).resolve().parents[1] / "examples" / "synth0000_neutral.png"
    openings = []
    for level in (1, 2, 3, 4):
        points = tmp_path / f"level{level}.json"
        args = [
            "edit",
            photo,
            "--model",
            "ict-synth-128",
            "--expr",
            "surprised",
            "--intensity",
            str(level),
            "--out",
            tmp_path / f"level{level}.png",
            "--save-landmarks",
            points,
            "--device",
            "cpu",
        ]
        code, _, stderr = run_cli(args, capsys)
        assert code == 0, stderr
        mouth = np.array(json.loads(points.read_text())["faces"][0]["points68"])
        openings.append(float(np.linalg.norm(mouth[66] - mouth[62])))  # inner lips, bottom - top
    assert all(a < b for a, b in zip(openings, openings[1:])), openings
    assert openings[-1] > 2 * openings[0], openings


def test_bundled_default_model_smiles_more_as_the_fraction_grows(
    tmp_path, example_photos, detector, capsys, monkeypatch
):
    """`--intensity 0.25 .. 1.0` with the default model: the landmark displacement, G_e's label and
    its flow and mask are scaled together, so a quarter edit stays near neutral and the smile
    (MediaPipe mouthSmile) grows to the full edit's."""
    from lgan_cli.faces.decode import load_image

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    photo = next(p for p in example_photos if p.name == "london_030_neutral.jpg")
    smiles = []
    for fraction in ("0.25", "0.75", "1.0"):
        out = tmp_path / f"smile{fraction}.jpg"
        code, _, stderr = run_cli(
            ["edit", photo, "--expr", "happy", "--intensity", fraction, "--out", out, "--device", "cpu"], capsys
        )
        assert code == 0, stderr
        scores = detector.detect(load_image(out))[0].blendshapes
        smiles.append((scores["mouthSmileLeft"] + scores["mouthSmileRight"]) / 2)
    assert smiles[0] <= smiles[1] <= smiles[2], smiles
    assert smiles[2] > 0.4 and smiles[0] < smiles[2] / 4, smiles


def test_action_units_with_the_geometry_editor(tmp_path, example_photos, detector, capsys, monkeypatch):
    """`lgan edit --model geometry --au 12=1,6=1`: a smile made of action units, moved into the
    photo, and the same with the default (warp) model; bad specs, a blink and a re-rendering
    model are one-line errors."""
    from lgan_cli.faces.decode import load_image

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    photo = next(p for p in example_photos if p.name == "london_042_neutral.jpg")
    out = tmp_path / "au.png"
    code, _, stderr = run_cli(
        ["edit", photo, "--model", "geometry", "--au", "12=1,6=1", "--out", out, "--device", "cpu"], capsys
    )
    assert code == 0, stderr

    def smile(image):
        return sum(detector.detect(image)[0].blendshapes[k] for k in ("mouthSmileLeft", "mouthSmileRight")) / 2

    assert smile(load_image(out)) > smile(load_image(photo)) + 0.3
    learned = tmp_path / "au-learned.png"
    code, _, stderr = run_cli(["edit", photo, "--au", "12=1,6=1", "--out", learned, "--device", "cpu"], capsys)
    assert code == 0, stderr
    assert smile(load_image(learned)) > smile(load_image(photo)) + 0.2
    for args, words in (
        (["--model", "geometry", "--au", "99=1"], "unknown action unit"),
        (["--model", "geometry", "--au", "12=2"], "12"),
        (["--model", "geometry", "--au", "12=0.5,12=0.5"], "twice"),
        (["--model", "geometry", "--expr", "happy", "--au", "45=1"], "blink"),
        (["--model", "london-128", "--au", "12=1"], "warp model"),
        (["--model", "geometry"], "--expr"),
    ):
        code, _, stderr = run_cli(["edit", photo, *args, "--out", tmp_path / "bad.png", "--device", "cpu"], capsys)
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert code == 1 and len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], stderr
    assert not (tmp_path / "bad.png").exists()


def test_every_expression_on_the_example_photo_offline(tmp_path, example_photos, detector, capsys, monkeypatch):
    """`lgan edit <neutral example> --expr surprised --intensity 4` with the bundled default, offline:
    the jaw drops and the painted interior is not brighter than the lips; sad at level 2 moves less
    than at level 4; --au 12=1,6=1 smiles."""
    from lgan_cli.eval.photos import EXPRESSION_BLENDSHAPES, blendshape_score, mouth_interior_brightness
    from lgan_cli.faces.decode import load_image
    from lgan_cli.hub import default_model_for

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("LGAN_OFFLINE", "1")
    photo = next(p for p in example_photos if p.name == "london_042_neutral.jpg")
    before = detector.detect(load_image(photo))[0]
    results = {}
    for name, args in (
        ("surprised", ["--expr", "surprised", "--intensity", "4"]),
        ("sad2", ["--expr", "sad", "--intensity", "2"]),
        ("sad4", ["--expr", "sad", "--intensity", "4"]),
        ("au", ["--au", "12=1,6=1"]),
    ):
        out = tmp_path / f"{name}.png"
        code, _, stderr = run_cli(["edit", photo, *args, "--out", out, "--device", "cpu"], capsys)
        assert code == 0 and default_model_for(["surprised"]) in stderr, stderr
        results[name] = (load_image(out), detector.detect(load_image(out))[0])
    image, face = results["surprised"]
    surprise = EXPRESSION_BLENDSHAPES["surprised"]
    assert blendshape_score(face, surprise) > blendshape_score(before, surprise) + 0.05
    assert face.blendshapes["jawOpen"] > before.blendshapes["jawOpen"] + 0.1
    # the painted interior is no brighter than the lips around it (a bright smear would fail this)
    assert mouth_interior_brightness(image, face.points68) < 1.0
    sad = EXPRESSION_BLENDSHAPES["sad"]
    assert blendshape_score(results["sad4"][1], sad) > blendshape_score(results["sad2"][1], sad)
    smile = EXPRESSION_BLENDSHAPES["happy"]
    assert blendshape_score(results["au"][1], smile) > blendshape_score(before, smile) + 0.2


def test_help_texts_show_their_bracketed_defaults():
    """Rich reads '[full]' or '[@rev]' in a help text as a style tag and drops it ('such as 0.5 .'):
    every option's help must show what it says."""
    import typer
    from rich.text import Text

    from lgan_cli.cli.app import app

    def commands(group):
        for command in group.commands.values():
            yield command
            if hasattr(command, "commands"):
                yield from commands(command)

    checked = 0
    for command in commands(typer.main.get_command(app)):
        for param in command.params:
            text = getattr(param, "help", None) or ""
            if "[" in text:
                assert Text.from_markup(text).plain == text.replace("\\[", "["), (command.name, param.name)
                checked += 1
    assert checked >= 16
