"""The evaluation runner and `lgan eval`: known answers from the copy baseline and a target oracle."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from lgan_cli.data.registration import register_pairs
from lgan_cli.errors import LganError
from lgan_cli.eval.runner import PairScore, evaluate, summarise
from lgan_cli.models.editor import EditResult
from lgan_cli.pixels import to_tensor

from conftest import prepare_examples, run_cli


@pytest.fixture(scope="module")
def held_out(tmp_path_factory, example_photos):
    """Examples prepared at 64 px with person 030 (neutral + smiling) as the test split: 2 pairs."""
    return prepare_examples(tmp_path_factory.mktemp("eval"), example_photos, test_ids=("030",))


class TargetOracle:
    """Returns the real target photo, registered onto the source as the evaluation registers it:
    every 'compare with the target' metric must be perfect."""

    name = "oracle"
    resolution = None
    expressions = None

    def __init__(self, dataset):
        pairs = dataset.pairs("test")
        self.by_source = {(s.key, t.expression): t for s, t in pairs}
        self.sources = {s.key: s for s, _ in pairs}
        self.crops = {s.key: to_tensor([s.load_crop()])[0] for s, _ in pairs}

    def edit(self, crops, points68, expressions, intensities):
        outputs = []
        for crop, points, expression in zip(crops, points68, expressions):
            key = next(k for k, c in self.crops.items() if torch.equal(c, crop))
            target = self.by_source[(key, expression)]
            image, _ = register_pairs(
                to_tensor([target.load_crop()]), torch.from_numpy(target.points68)[None], points[None]
            )
            outputs.append(image[0])
        return EditResult(images=torch.stack(outputs))


def test_copy_and_oracle(held_out):
    report = evaluate(TargetOracle(held_out), held_out, "test")
    assert report.pairs == 2 and set(report.methods) == {"oracle", "copy"}
    oracle, copy = report.methods["oracle"].summary(), report.methods["copy"].summary()
    assert (
        oracle["psnr"] == 100.0
        and oracle["ssim"] == pytest.approx(1.0)
        and oracle["lpips"] == pytest.approx(0.0, abs=1e-6)
    )
    # the output chip follows its re-detected landmarks, the target chip the prepared ones: near 1
    assert oracle["identity_cosine"] == pytest.approx(1.0, abs=1e-3) and oracle["verified"] == 1.0
    assert oracle["landmark_distance"] < 4.0  # re-detection on the target itself: only detector noise
    # the copy baseline is the same person with the other expression
    assert copy["verified"] == 1.0 and 0.9 < copy["identity_cosine"] < 1.0
    assert copy["psnr"] < 40 and copy["ssim"] < 0.99 and copy["lpips"] > 0.01
    assert copy["landmark_distance"] > oracle["landmark_distance"]  # the expression moved the landmarks
    # copy returns the source's points as its "generated" ones: their distance to the target's is the
    # expression's own landmark motion; the oracle returns no points
    assert copy["generated_landmark_distance"] > 1.0 and oracle["generated_landmark_distance"] is None
    # the classifier reads the real smile as happy, so the oracle's happy target scores; copying neutral does not
    assert report.methods["oracle"].summary("happy")["expression_correct"] == 1.0
    assert report.methods["copy"].summary("happy")["expression_correct"] == 0.0
    assert report.methods["oracle"].summary("happy")["smile"] > report.methods["copy"].summary("happy")["smile"]


def test_ceiling_scores_the_real_targets(held_out):
    from lgan_cli.models.editor import CopyEditor

    report = evaluate(CopyEditor(), held_out, "test", ceiling=True)
    real = report.methods["real"]
    assert real.summary()["psnr"] == 100.0 and real.summary()["lpips"] == pytest.approx(0.0, abs=1e-6)
    assert real.summary("happy")["expression_correct"] == 1.0  # the genuine smile reads as happy
    assert real.summary("happy")["smile"] > report.methods["copy"].summary("happy")["smile"]


def test_summary_known_values():
    def score(**changes):
        base = dict(
            source="a",
            target="b",
            source_expression="neutral",
            target_expression="happy",
            target_intensity=None,
            psnr=20.0,
            ssim=0.5,
            lpips=0.2,
            landmark_distance=4.0,
            generated_landmark_distance=None,
            identity_cosine=0.9,
            verified=True,
            expression_predicted="happy",
            expression_correct=True,
            smile=0.5,
        )
        return PairScore(**{**base, **changes})

    summary = summarise(
        [
            score(),
            score(psnr=math.inf, landmark_distance=None, verified=False, expression_correct=None, smile=None),
            score(psnr=30.0, expression_correct=False),
        ]
    )
    assert summary["pairs"] == 3
    assert summary["psnr"] == pytest.approx((20 + 100 + 30) / 3)  # identical images count as 100 dB
    assert summary["landmark_distance"] == 4.0 and summary["face_found"] == pytest.approx(2 / 3)
    assert summary["verified"] == pytest.approx(2 / 3)
    assert summary["expression_correct"] == 0.5  # the pair with no classifier class is left out


def test_model_must_know_the_expressions(held_out):
    class Narrow:
        name, resolution, expressions = "narrow", None, ("neutral",)

        def edit(self, *args):
            raise AssertionError("not reached")

    with pytest.raises(LganError, match="does not know happy; it knows neutral"):
        evaluate(Narrow(), held_out, "test")


def test_eval_cli_copy_baseline_table_and_json(held_out, tmp_path, capsys):
    out = tmp_path / "eval.json"
    code, stdout, stderr = run_cli(
        [
            "eval",
            "--model",
            "copy",
            "--dataset",
            "folder",
            "--data-root",
            tmp_path,
            "--prepared",
            held_out.root,
            "--json",
            out,
            "--device",
            "cpu",
        ],
        capsys,
    )
    assert code == 0, stderr
    assert "PSNR" in stdout and "overall" in stdout and "copy" in stdout
    document = json.loads(out.read_text())
    assert document["pairs"] == 2 and document["methods"]["copy"]["overall"]["verified"] == 1.0
    assert set(document["methods"]["copy"]["per_target_expression"]) == {"happy", "neutral"}


def test_eval_cli_accepts_a_trained_checkpoint(held_out, tmp_path, capsys, example_photos):
    from lgan_cli.models.checkpoint import save_inference
    from lgan_cli.models.config import ModelConfig
    from lgan_cli.models.generators import LandmarkGAN

    model = LandmarkGAN(ModelConfig(resolution=64, expressions=("neutral", "happy"), generator_width=8))
    save_inference(model, tmp_path / "ckpt")
    code, stdout, stderr = run_cli(
        [
            "eval",
            "--model",
            tmp_path / "ckpt",
            "--dataset",
            "folder",
            "--data-root",
            tmp_path,
            "--prepared",
            held_out.root,
            "--device",
            "cpu",
        ],
        capsys,
    )
    assert code == 0, stderr
    assert "ckpt" in stdout and "copy" in stdout
    code, stdout, stderr = run_cli(
        ["eval", "--model", "nonsense", "--dataset", "folder", "--data-root", tmp_path], capsys
    )
    assert code == 1 and stderr.startswith("error: unknown model")


def test_fid_is_reported_when_asked(held_out):
    from lgan_cli.eval.fid import inception_path

    try:
        inception_path()
    except LganError as exc:
        pytest.skip(f"FID Inception not fetched: {exc}")

    class Grey:
        name, resolution, expressions = "grey", None, None

        def edit(self, crops, points68, expressions, intensities):
            return EditResult(images=torch.zeros_like(crops))

    report = evaluate(Grey(), held_out, "test", fid=True)
    # both directions of one person: the copied inputs are exactly the set of real targets
    assert report.methods["copy"].fid == pytest.approx(0.0, abs=1e-2)
    assert report.methods["grey"].fid > 50
    assert report.to_json()["methods"]["grey"]["fid"] == report.methods["grey"].fid


def test_photo_evaluation_of_several_expressions_and_levels(example_photos, tmp_path, capsys):
    """`lgan eval --photos P --expr sad,surprised --intensity 2,4`: one report per request, the
    geometry editor scored; a stronger level moves the judging blendshapes further."""
    photo = next(p for p in example_photos if p.name == "london_042_neutral.jpg")
    out, sheet = tmp_path / "grid.json", tmp_path / "grid.png"
    code, stdout, stderr = run_cli(
        [
            "eval",
            "--model",
            "geometry",
            "--photos",
            photo,
            "--expr",
            "surprised,sad",
            "--intensity",
            "2,4",
            "--json",
            out,
            "--sheet",
            sheet,
            "--device",
            "cpu",
        ],
        capsys,
    )
    assert code == 0, stderr
    reports = json.loads(out.read_text())["reports"]
    assert [(r["expression"], r["intensity"]) for r in reports] == [
        ("surprised", 2),
        ("surprised", 4),
        ("sad", 2),
        ("sad", 4),
    ]
    scores = [r["methods"]["geometry"]["medians"]["expression_score"] for r in reports]
    assert scores[0] < scores[1] and scores[2] < scores[3]
    assert all(r["methods"]["geometry"]["medians"]["total_changed_far"] == 0 for r in reports)
    assert "surprised" in stdout and "rises" in stdout
    assert Image.open(sheet).size[0] > 4 * 300  # input + four edits side by side
    code, _, stderr = run_cli(
        ["eval", "--model", "geometry", "--photos", photo, "--expr", " , ", "--device", "cpu"], capsys
    )
    assert code == 1 and "no expression" in stderr


def test_contact_sheet_labels_stay_inside_their_columns():
    """A long method name wraps onto more header lines instead of running into the next column."""
    from lgan_cli.eval.photos import SHEET_HEIGHT, contact_sheet

    side, gap = SHEET_HEIGHT, 6
    faces = [np.zeros((side, side, 3), np.uint8) for _ in range(3)]
    labels = ["input", "london-all-warp-128 (learned mouth) disgusted 4", "geometry sad 4"]
    sheet = contact_sheet([faces], labels)
    header = sheet[: sheet.shape[0] - side - gap]
    assert header.shape[0] > 40  # the long label took a second line
    ink = header.min(axis=2) < 128
    assert not ink[:, side : side + gap].any() and not ink[:, 2 * side + gap : 2 * side + 2 * gap].any()
    assert ink[:, side + gap : 2 * side + gap].any() and ink[:, 2 * side + 2 * gap :].any()
