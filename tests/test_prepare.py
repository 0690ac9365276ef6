"""`prepare` end to end: real detection and alignment, resumable, idempotent, skips bad photos."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from lgan_cli.cli.app import main
from lgan_cli.data.adapters import scan_dataset
from lgan_cli.data.prepare import PrepareConfig, prepare_dataset, read_index
from lgan_cli.errors import DatasetError


@pytest.fixture()
def folder_dataset(tmp_path, example_photos):
    """A `folder` dataset: the example photos (small copies), a corrupt file and a faceless one."""
    root = tmp_path / "mine"
    root.mkdir()
    rows = ["path,identity,expression"]
    for photo in example_photos:
        Image.open(photo).convert("RGB").resize((480, 480)).save(root / photo.name, quality=92)
        person, expression = photo.stem.split("_")[1], photo.stem.split("_")[2]
        rows.append(f"{photo.name},{person},{expression}")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    Image.new("RGB", (300, 300), (90, 140, 200)).save(root / "sky.png")
    rows += ["broken.jpg,999,neutral", "sky.png,998,happy"]
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def test_prepare_folder_dataset_skips_bad_photos(folder_dataset, tmp_path, example_photos):
    out = tmp_path / "prepared"
    config = PrepareConfig(dataset="folder", data_root=str(folder_dataset), resolution=64, test_fraction=0.3)
    report = prepare_dataset(config, out)
    assert report.total == len(example_photos) + 2 and report.prepared == len(example_photos)
    reasons = {entry["source"].rsplit("/", 1)[-1]: entry["reason"] for entry in report.skipped}
    assert set(reasons) == {"broken.jpg", "sky.png"}
    assert "no face" in reasons["sky.png"] and "broken.jpg" in reasons["broken.jpg"]

    index = read_index(out)
    assert len(index["items"]) == len(example_photos) and len(index["skipped"]) == 2
    for item in index["items"]:
        crop = np.asarray(Image.open(out / item["crop"]))
        assert crop.shape == (64, 64, 3)
        points = np.array(item["points68"])
        assert points.shape == (68, 2) and (points > 0).all() and (points < 64).all()
        assert item["split"] == index["splits"][item["identity"]]
        assert len(item["blendshapes"]) == 52
    # the split covers every identity in the CSV, including ones whose photo was skipped
    assert set(index["splits"]) == {"001", "030", "042", "998", "999"}


def test_prepare_is_idempotent_and_resumes(folder_dataset, tmp_path, example_photos):
    out = tmp_path / "prepared"
    config = PrepareConfig(dataset="folder", data_root=str(folder_dataset), resolution=64)

    class Stop(Exception):
        pass

    def stop_after_two(record, status, seen=[]):
        seen.append(status)
        if len(seen) == 2:
            raise Stop

    with pytest.raises(Stop):
        prepare_dataset(config, out, on_progress=stop_after_two)
    interrupted = read_index(out)
    assert len(interrupted["items"]) + len(interrupted["skipped"]) == 2  # progress was saved

    statuses = []
    report = prepare_dataset(config, out, on_progress=lambda r, s: statuses.append(s))
    assert statuses[:2] == ["reused", "reused"]  # the two photos done before the interruption
    assert report.reused == 2 and report.prepared == len(example_photos) - 2 and len(report.skipped) == 2
    first = (out / "index.json").read_bytes()
    crops = {p.name: p.stat().st_mtime_ns for p in (out / "crops").iterdir()}

    statuses.clear()
    again = prepare_dataset(config, out, on_progress=lambda r, s: statuses.append(s))
    assert again.prepared == 0 and "prepared" not in statuses
    assert (out / "index.json").read_bytes() == first  # nothing changed
    assert {p.name: p.stat().st_mtime_ns for p in (out / "crops").iterdir()} == crops

    # a deleted crop is redone, and nothing else
    victim = sorted((out / "crops").iterdir())[0]
    victim.unlink()
    redo = prepare_dataset(config, out)
    assert redo.prepared == 1 and victim.exists()


def test_prepare_refuses_other_settings_in_same_folder(folder_dataset, tmp_path):
    out = tmp_path / "prepared"
    prepare_dataset(PrepareConfig(dataset="folder", data_root=str(folder_dataset), resolution=64), out)
    with pytest.raises(DatasetError, match="another --out"):
        prepare_dataset(PrepareConfig(dataset="folder", data_root=str(folder_dataset), resolution=128), out)


def test_prepare_london_subset_end_to_end(london_root, tmp_path, capsys):
    """Four real London photos through the CLI; the crops' landmark images look like faces."""
    records = scan_dataset("london", london_root)
    subset = [r for r in records if r.identity in {"002", "003"}]
    out = tmp_path / "london"
    config = PrepareConfig(dataset="london", data_root=str(london_root), resolution=128, test_ids=("003",))
    report = prepare_dataset(config, out, records=subset)
    assert report.prepared == 4 and not report.skipped
    index = read_index(out)
    assert index["splits"]["003"] == "test" and index["splits"]["002"] == "train"
    assert len(index["splits"]) == 89
    by_expression = {(i["identity"], i["expression"]): i for i in index["items"]}
    neutral, happy = by_expression[("002", "neutral")], by_expression[("002", "happy")]

    # smiling widens the mouth (48 -> 54) relative to the eye distance, in aligned crops
    def width(item):
        return np.ptp(np.array(item["points68"])[[48, 54], 0])

    assert width(happy) > 1.1 * width(neutral)
    assert happy["blendshapes"]["mouthSmileLeft"] > 0.3 > neutral["blendshapes"]["mouthSmileLeft"]
    assert Image.open(out / neutral["crop"]).size == (128, 128)


def test_prepare_cli_prints_report(folder_dataset, tmp_path, capsys):
    out = tmp_path / "cli"
    try:
        main(
            [
                "prepare",
                "--dataset",
                "folder",
                "--data-root",
                str(folder_dataset),
                "--out",
                str(out),
                "--resolution",
                "64",
            ]
        )
    except SystemExit as exc:
        assert exc.code in (0, None)
    err = capsys.readouterr().err
    assert "skipped" in err and "sky.png" in err and "no face" in err
    assert "sky.png" in (out / "skipped.csv").read_text()
    assert json.loads((out / "index.json").read_text())["config"]["resolution"] == 64


def test_prepared_crops_can_be_served_smaller(tmp_path, example_photos):
    """A set prepared at 128 px serves 64 px crops equal to preparing at 64 px (one alignment frame)."""
    from lgan_cli.data.prepared import PreparedDataset

    from conftest import prepare_examples

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    big = prepare_examples(tmp_path / "a", example_photos, test_ids=None, size=128)
    small = prepare_examples(tmp_path / "b", example_photos, test_ids=None, size=64)
    served = PreparedDataset.load(big.root, resolution=64)
    assert served.resolution == 64
    for a, b in zip(served.items, small.items):
        assert a.key == b.key
        np.testing.assert_allclose(a.points68, b.points68, atol=0.05)
        crop_a, crop_b = a.load_crop().astype(int), b.load_crop().astype(int)
        assert crop_a.shape == crop_b.shape == (64, 64, 3)
        assert np.abs(crop_a - crop_b).mean() < 3
    with pytest.raises(DatasetError, match="cannot serve"):
        PreparedDataset.load(small.root, resolution=128)


def test_train_and_eval_prepare_the_split_the_model_was_trained_with(folder_dataset, tmp_path):
    """One "prepare if missing" for train and eval: given a run's data settings (eval reads them
    from the model's config.json), it writes their identity split; an existing cache is kept."""
    from dataclasses import asdict

    from lgan_cli.data.prepare import prepare_if_missing, split_settings
    from lgan_cli.errors import LganError
    from lgan_cli.train.config import DataConfig

    run_data = DataConfig(dataset="folder", data_root=str(folder_dataset), test_ids=("030",))
    recorded = json.loads(json.dumps(asdict(run_data)))  # as config.json holds it: test_ids a list
    assert (
        split_settings(asdict(run_data))
        == split_settings(recorded)
        == {"seed": 0, "test_fraction": 0.2, "val_fraction": 0.0, "test_ids": ("030",)}
    )
    out = tmp_path / "prepared"
    with pytest.raises(LganError, match="give --data-root"):
        prepare_if_missing(out, PrepareConfig(dataset="folder", data_root="", resolution=64))
    config = PrepareConfig(dataset="folder", data_root=str(folder_dataset), resolution=64, **split_settings(recorded))
    assert prepare_if_missing(out, config) is True
    splits = {item["identity"]: item["split"] for item in read_index(out)["items"]}
    assert splits["030"] == "test" and {s for i, s in splits.items() if i != "030"} == {"train"}
    assert (
        prepare_if_missing(out, PrepareConfig(dataset="folder", data_root=str(folder_dataset), resolution=64)) is False
    )
