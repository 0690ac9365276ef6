"""`lgan landmarks` end to end, and its one-line errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli


def test_json_and_overlay(example_photos, tmp_path, capsys):
    photo = example_photos[0]
    out_json, overlay = tmp_path / "points.json", tmp_path / "overlay.png"
    code, _, err = run_cli(["landmarks", photo, "--json", out_json, "--overlay", overlay], capsys)
    assert code == 0, err
    document = json.loads(out_json.read_text())
    (face,) = document["faces"]
    points = np.array(face["points68"])
    assert points.shape == (68, 2) and np.array(face["mesh478"]).shape == (478, 3)
    assert len(face["blendshapes"]) == 52
    x0, y0, x1, y1 = face["box"]
    assert (points[:, 0] > x0 - 5).all() and (points[:, 0] < x1 + 5).all()
    picture = np.asarray(Image.open(overlay))
    original = np.asarray(Image.open(photo).convert("RGB"))
    assert picture.shape == original.shape
    changed = np.abs(picture.astype(int) - original).sum(-1) > 30
    ys, xs = np.nonzero(changed)
    # drawing happens on the face, not elsewhere
    assert changed.mean() > 0.005 and x0 - 20 <= xs.min() and xs.max() <= x1 + 20


def test_json_to_stdout_is_clean(example_photos, capsys):
    code, out, _ = run_cli(["landmarks", example_photos[0], "--json", "-", "--no-mesh"], capsys)
    assert code == 0
    document = json.loads(out)
    assert "mesh478" not in document["faces"][0]


def test_refuses_to_overwrite(example_photos, tmp_path, capsys):
    target = tmp_path / "overlay.png"
    target.write_bytes(b"keep me")
    code, _, err = run_cli(["landmarks", example_photos[0], "--overlay", target], capsys)
    assert code == 1 and "--force" in err and target.read_bytes() == b"keep me"
    code, _, err = run_cli(["landmarks", example_photos[0], "--overlay", example_photos[0], "--force"], capsys)
    assert code == 1 and "input" in err


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def bad_inputs(tmp_path: Path, photo: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, a word the one-line error must contain)."""
    jpeg = photo.read_bytes()
    blank = Image.new("RGB", (200, 200), (128, 128, 128))
    blank.save(tmp_path / "blank.png")
    Image.new("RGB", (1, 1)).save(tmp_path / "tiny.png")
    (tmp_path / "folder.jpg").mkdir()
    return {
        "not an image": (_write(tmp_path / "notes.jpg", b"hello, not a picture\n"), "image"),
        "truncated": (_write(tmp_path / "cut.jpg", jpeg[: len(jpeg) // 3]), "truncated"),
        "empty": (_write(tmp_path / "empty.jpg", b""), "empty"),
        "no face": (tmp_path / "blank.png", "no face"),
        "1x1": (tmp_path / "tiny.png", "small"),
        "missing": (tmp_path / "nope.jpg", "not exist"),
        "directory": (tmp_path / "folder.jpg", "folder"),
    }


@pytest.mark.parametrize("case", ["not an image", "truncated", "empty", "no face", "1x1", "missing", "directory"])
def test_bad_input_is_one_line_error(case, example_photos, tmp_path, capsys):
    path, word = bad_inputs(tmp_path, example_photos[0])[case]
    code, out, err = run_cli(["landmarks", path], capsys)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert word in lines[0].lower(), lines[0]
    assert "Traceback" not in err


def test_converted_and_rotated_inputs_work(example_photos, tmp_path, capsys):
    """CMYK JPEG, RGBA / grey / 16-bit PNG and an EXIF-rotated photo are all found upright."""
    source = Image.open(example_photos[0]).convert("RGB").resize((675, 675))
    variants = {
        "cmyk.jpg": source.convert("CMYK"),
        "rgba.png": source.convert("RGBA"),
        "grey.png": source.convert("L"),
        "palette.png": source.convert("P"),
        "grey16.png": Image.fromarray((np.asarray(source.convert("L")).astype(np.uint16) * 257)),
    }
    boxes = {}
    for name, image in variants.items():
        image.save(tmp_path / name)
    rotated = source.transpose(Image.Transpose.ROTATE_90)  # stored sideways ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... with the tag that tells viewers to rotate it back upright
    rotated.save(tmp_path / "exif_rotated.jpg", exif=exif)
    for name in [*variants, "exif_rotated.jpg"]:
        out = tmp_path / f"{name}.json"
        code, _, err = run_cli(["landmarks", tmp_path / name, "--json", out, "--no-mesh"], capsys)
        assert code == 0, (name, err)
        document = json.loads(out.read_text())
        assert (document["width"], document["height"]) == (675, 675)
        points = np.array(document["faces"][0]["points68"])
        assert points[8, 1] > points[27, 1], name  # chin below the nose bridge: upright
        boxes[name] = np.array(document["faces"][0]["box"])
    reference = boxes["rgba.png"]
    for name, box in boxes.items():
        assert np.abs(box - reference).max() < 20, name


def test_several_faces_choose_largest_all_or_index(example_photos, tmp_path, capsys):
    big = Image.open(example_photos[0]).convert("RGB").resize((600, 600))
    small = Image.open(example_photos[1]).convert("RGB").resize((400, 400))
    group = Image.new("RGB", (1100, 700), (200, 200, 200))
    group.paste(big, (0, 50))
    group.paste(small, (650, 150))
    group.save(tmp_path / "two.jpg")
    widths = {}
    for choice in ["largest", "all", "1"]:
        out = tmp_path / f"{choice}.json"
        code, _, err = run_cli(["landmarks", tmp_path / "two.jpg", "--face", choice, "--json", out], capsys)
        assert code == 0, err
        widths[choice] = [f["box"][2] - f["box"][0] for f in json.loads(out.read_text())["faces"]]
    assert len(widths["all"]) == 2 and widths["all"][0] > widths["all"][1]
    assert widths["largest"] == widths["all"][:1]
    assert widths["1"] == widths["all"][1:]
    code, _, err = run_cli(["landmarks", tmp_path / "two.jpg", "--face", "5"], capsys)
    assert code == 1 and "2 face" in err


def test_help_shows_examples(capsys):
    for args in (["--help"], ["landmarks", "--help"], ["prepare", "--help"]):
        code, out, _ = run_cli(args, capsys)
        assert code == 0 and "Examples" in out and "lgan " in out
