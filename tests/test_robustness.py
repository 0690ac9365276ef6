"""Crash-free output under threads, and odd but valid photos through the whole edit."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time

import numpy as np
from PIL import Image

from conftest import REPO, run_cli


def test_native_stderr_silencing_from_many_threads_always_restores_fd2(capfd):
    """`lgan batch` detects in several threads; each silences fd 2 around MediaPipe. Interleaved
    entries and exits must still leave fd 2 the real stream afterwards (it used to end up
    pointing at /dev/null for good, hiding the progress, the summary and the failure table)."""
    from lgan_cli.faces.detect import quiet_native_stderr

    original = os.fstat(2)
    rng = random.Random(0)
    pauses = [[rng.random() * 1e-3 for _ in range(60)] for _ in range(4)]

    def work(mine: list[float]) -> None:
        for pause in mine:
            with quiet_native_stderr():
                os.write(2, b"native noise\n")
                time.sleep(pause)
            time.sleep(pause / 2)

    threads = [threading.Thread(target=work, args=(mine,)) for mine in pauses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    now = os.fstat(2)
    assert (now.st_dev, now.st_ino) == (original.st_dev, original.st_ino)
    os.write(2, b"still visible\n")
    assert capfd.readouterr().err == "still visible\n"  # nothing leaked while silenced, all after


def test_batch_with_two_workers_prints_progress_summary_and_failures(tmp_path, example_photos):
    """The real process (fd-level stderr, default two workers): the summary and the failure table show."""
    source = tmp_path / "in"
    source.mkdir()
    for index, photo in enumerate(example_photos[:3]):
        Image.open(photo).convert("RGB").resize((256, 256)).save(source / f"p{index}.jpg")
    (source / "broken.jpg").write_bytes(b"\xff\xd8\xff nope")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lgan_cli",
            "batch",
            source,
            "--expr",
            "happy",
            "--out",
            tmp_path / "out",
            "--device",
            "cpu",
        ],
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200", "LGAN_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "batch into" in result.stderr and "done" in result.stderr and "3/4" not in result.stderr
    assert "4/4" in result.stderr  # the progress bar's last state
    assert "broken.jpg" in result.stderr  # the failure table
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "failures.csv",
        "p0_happy.jpg",
        "p1_happy.jpg",
        "p2_happy.jpg",
    ]


def test_batch_with_out_inside_the_input_folder_leaves_it_out(tmp_path, example_photos, capsys, monkeypatch):
    monkeypatch.setenv("LGAN_OFFLINE", "1")
    source = tmp_path / "in"
    source.mkdir()
    Image.open(example_photos[0]).convert("RGB").resize((256, 256)).save(source / "a.jpg")
    args = ["batch", source, "--expr", "happy", "--out", source / "edited", "--device", "cpu"]
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    code, _, err = run_cli([*args, "--skip-existing"], capsys)  # its own outputs are not new inputs
    assert code == 0 and sorted(p.name for p in (source / "edited").iterdir()) == ["a_happy.jpg"]


def test_grey_photo_stays_grey(tmp_path, example_photos, capsys, monkeypatch):
    """A greyscale photo edited by the default model: the face stays grey (channels within 2 levels).
    The warp renderer moves the photo's own pixels, so no tint can appear."""
    monkeypatch.setenv("LGAN_OFFLINE", "1")
    photo = next(p for p in example_photos if p.name == "london_001_neutral.jpg")
    grey = tmp_path / "grey.png"
    Image.open(photo).convert("L").resize((675, 675)).save(grey)
    out = tmp_path / "grey_happy.png"
    code, _, err = run_cli(
        ["edit", grey, "--expr", "happy", "--out", out, "--device", "cpu", "--save-landmarks", tmp_path / "p.json"],
        capsys,
    )
    assert code == 0, err
    import json

    points = np.array(json.loads((tmp_path / "p.json").read_text())["faces"][0]["points68"])
    x0, y0 = points.min(0).astype(int)
    x1, y1 = points.max(0).astype(int)
    face = np.asarray(Image.open(out).convert("RGB")).astype(int)[y0:y1, x0:x1]
    spread = face.max(axis=2) - face.min(axis=2)
    assert spread.max() <= 2, f"channel differences up to {spread.max()} levels in the face"


def test_dark_photo_gets_no_coloured_noise(tmp_path, example_photos, capsys, monkeypatch):
    """A very dark photo edited by the default model: the face's colour (chroma) statistics stay
    the input's (the re-rendering model painted coloured noise there)."""
    monkeypatch.setenv("LGAN_OFFLINE", "1")
    photo = next(p for p in example_photos if p.name == "london_042_neutral.jpg")
    rgb = np.asarray(Image.open(photo).convert("RGB").resize((675, 675))).astype(float)
    dark = tmp_path / "dark.png"
    Image.fromarray(np.clip((rgb / 255) ** 2.2 * 60, 0, 255).round().astype(np.uint8)).save(dark)
    out = tmp_path / "dark_happy.png"
    code, _, err = run_cli(["edit", dark, "--expr", "happy", "--out", out, "--device", "cpu"], capsys)
    assert code == 0, err
    before, after = (np.asarray(Image.open(path).convert("RGB")).astype(float) for path in (dark, out))
    changed = (before != after).any(axis=2)
    assert changed.sum() > 1000  # the face was edited

    def chroma(image):
        return np.stack([image[..., 0] - image[..., 1], image[..., 2] - image[..., 1]], axis=-1)[changed]

    assert np.abs(chroma(after).mean(0) - chroma(before).mean(0)).max() < 1.0
    assert (chroma(after).std(0) <= chroma(before).std(0) * 1.1 + 0.5).all()
