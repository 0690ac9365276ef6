"""All eight expressions on real photos: geometry targets for stage I, the mouth-synthesis
renderer, growing a two-label model into an eight-label one, and the mouth-interior measure."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from test_geometry import ICT_NPZ, SKIP_ICT

from lgan_cli.data.geometry_targets import GEOMETRY_LEVELS, geometry_targets
from lgan_cli.data.records import RAFD_EXPRESSIONS
from lgan_cli.eval.photos import mouth_interior_brightness
from lgan_cli.faces.ibug68 import INNER_LIPS
from lgan_cli.models.config import ModelConfig
from lgan_cli.models.flow import opened_mouth_mask, polygon_coverage
from lgan_cli.models.generators import LandmarkGAN, encode_labels
from lgan_cli.models.pdm import fit_pdm
from lgan_cli.train.config import DataConfig, LossConfig, RunConfig, TrainConfig
from lgan_cli.train.data import PairData, PointTargets
from lgan_cli.train.trainer import Trainer, grow_labels, reexpress_head

from conftest import edit_with_landmarks, prepare_examples

needs_ict = pytest.mark.skipif(not ICT_NPZ.is_file(), reason=SKIP_ICT)


@pytest.fixture(scope="module")
def example_pairs(tmp_path_factory, example_photos):
    return prepare_examples(tmp_path_factory.mktemp("examples"), example_photos, test_ids=None)


# ----- the opened-mouth mask ---------------------------------------------------------------


def test_polygon_coverage_is_the_polygon_area_with_anti_aliased_edges():
    square = torch.tensor([[[10.0, 10.0], [30.0, 10.0], [30.0, 20.0], [10.0, 20.0]]])
    coverage = polygon_coverage(square, 64)
    assert coverage.sum().item() == pytest.approx(200.0, abs=1.0)
    assert coverage[0, 15, 20] == 1 and coverage[0, 15, 40] == 0
    assert 0 < coverage[0, 15, 10] < 1  # the edge runs through the pixel centre


def _mouth(points: np.ndarray, opening: float) -> np.ndarray:
    """Points with the inner lips parted by `opening` pixels: iBUG 61-63 up, 65-67 down, the
    corners (60, 64) on the mouth's mid-line."""
    moved = points.copy()
    centre_y = moved[list(INNER_LIPS), 1].mean()
    moved[[60, 64], 1] = centre_y
    moved[[61, 62, 63], 1] = centre_y - opening / 2
    moved[[65, 66, 67], 1] = centre_y + opening / 2
    return moved


@pytest.fixture(scope="module")
def crop_points(example_pairs) -> np.ndarray:
    return example_pairs.items[0].points68.astype(np.float32)


def test_opened_mouth_mask_marks_only_where_the_mouth_opens(crop_points):
    closed = torch.from_numpy(_mouth(crop_points, 0.0))[None]
    opened = torch.from_numpy(_mouth(crop_points, 6.0))[None]
    still = torch.zeros(1, 64, 64, 2)
    assert opened_mouth_mask(closed, closed, still).sum() == 0  # nothing opens
    mask = opened_mouth_mask(closed, opened, still)[0]
    inside = polygon_coverage(opened[:, list(INNER_LIPS)], 64)[0]
    assert mask.sum() > 0.8 * inside.sum()
    assert mask[inside == 0].max() <= 0.5  # a pixel of feathering at most
    # an already open mouth carried along by the warp needs nothing new
    assert opened_mouth_mask(opened, opened, still).sum() == 0


def test_mouth_renderer_paints_only_inside_the_opened_mouth(crop_points):
    config = ModelConfig(
        resolution=64, expressions=("neutral", "surprised"), generator_width=8, synthesis_region="mouth"
    )
    model = LandmarkGAN(config).eval()
    crop = torch.rand(1, 3, 64, 64) * 2 - 1
    source = torch.from_numpy(_mouth(crop_points, 0.0))[None]
    target = torch.from_numpy(_mouth(crop_points, 6.0))[None]
    labels = model.encode_labels(["surprised"])
    with torch.no_grad():
        _, rendering = model.render(crop, target, labels, source)
        off = LandmarkGAN(replace(config, synthesis=False)).eval()
        off.load_state_dict(model.state_dict())
        _, plain = off.render(crop, target, labels, source)
    inner = polygon_coverage(target[:, list(INNER_LIPS)], 64)
    outside = (
        torch.nn.functional.max_pool2d(inner[:, None], 3, stride=1, padding=1)[0, 0] == 0
    )  # beyond a pixel's feather
    assert rendering["mask"].sum() > 0 and rendering["mask"][0][outside].max() == 0
    assert torch.equal(rendering["image"][0][:, outside], plain["image"][0][:, outside])
    assert plain["mask"].abs().sum() == 0


# ----- labels ------------------------------------------------------------------------------


def test_a_request_without_a_level_is_the_full_expression():
    config = ModelConfig(expressions=RAFD_EXPRESSIONS, intensity_levels=4)
    labels = encode_labels(config, ["happy", "neutral", "sad"], [None, None, 2])
    levels = labels[:, len(RAFD_EXPRESSIONS) :]
    assert levels[0].tolist() == [0, 0, 0, 1] and levels[1].sum() == 0 and levels[2].tolist() == [0, 1, 0, 0]
    with pytest.raises(ValueError, match="1..4"):
        encode_labels(config, ["happy"], [5])


# ----- geometry targets ----------------------------------------------------------------------


@needs_ict
def test_geometry_targets_cover_every_expression_and_level(example_pairs):
    items = example_pairs.split("train")
    targets = geometry_targets(items, RAFD_EXPRESSIONS)
    expressive = sum(item.expression != "neutral" for item in items)
    assert len(targets) == len(items) * 7 * len(GEOMETRY_LEVELS) + expressive
    by_request = {(t.source.key, t.expression, t.level): t.points68 for t in targets}
    item = next(i for i in items if i.expression == "neutral")
    moves = [np.abs(by_request[(item.key, "surprised", level)] - item.points68).max() for level in GEOMETRY_LEVELS]
    assert moves == sorted(moves) and moves[0] > 0.2  # a stronger level moves the points further
    jaw_drop = by_request[(item.key, "surprised", 4)][8, 1] - item.points68[8, 1]
    assert jaw_drop > 1.0  # surprise opens the jaw (image y grows downwards)


@needs_ict
def test_point_targets_batch_moves_points_with_the_crop(example_pairs):
    from lgan_cli.train.config import AugmentConfig

    targets = PointTargets(geometry_targets(example_pairs.split("train")[:2], ("neutral", "happy")), 64)
    plain = targets.batch([0, 1])
    assert set(plain) == {"source", "source_points", "target_points", "fitted_points", "expressions", "intensities"}
    assert torch.equal(plain["fitted_points"], plain["target_points"])  # the 3D model's targets are its own fit
    mirrored = 0
    for seed in range(6):
        batch = targets.batch([0, 1], AugmentConfig(flip=True), torch.Generator().manual_seed(seed))
        for i in range(2):
            if torch.equal(batch["source"][i], plain["source"][i].flip(-1)):  # this sample was mirrored
                mirrored += 1
                for key in ("source_points", "target_points", "fitted_points"):  # the nose tip's x mirrors in each
                    assert float(batch[key][i, 30, 0]) == pytest.approx(63 - float(plain[key][i, 30, 0]), abs=1e-4)
            else:
                assert torch.equal(batch["target_points"][i], plain["target_points"][i])
    assert 0 < mirrored < 12


@needs_ict
def test_a_one_sided_expression_is_never_mirrored_in_training(example_pairs):
    """Contempt pulls the subject's right lip corner: mirrored, it would be the left one under the
    same label, and G_l would learn the average of both sides, a symmetric twitch."""
    from lgan_cli.synth.recipes import mirror_symmetric
    from lgan_cli.train.config import AugmentConfig

    assert not mirror_symmetric("contemptuous")
    assert all(mirror_symmetric(e) for e in RAFD_EXPRESSIONS if e != "contemptuous")
    targets = PointTargets(geometry_targets(example_pairs.split("train")[:2], ("happy", "contemptuous")), 64)
    plain = targets.batch(list(range(len(targets))))
    mirrored = {"happy": 0, "contemptuous": 0}
    for seed in range(6):
        batch = targets.batch(list(range(len(targets))), AugmentConfig(flip=True), torch.Generator().manual_seed(seed))
        for i, expression in enumerate(batch["expressions"]):
            mirrored[expression] += int(torch.equal(batch["source"][i], plain["source"][i].flip(-1)))
            if expression == "contemptuous":
                assert torch.equal(batch["target_points"][i], plain["target_points"][i])
    assert mirrored["contemptuous"] == 0 < mirrored["happy"]


def test_the_bundled_models_contempt_pulls_one_lip_corner(tmp_path, example_photos, capsys, monkeypatch):
    """Contempt is the subject's right lip corner pulled up and out. Trained with mirrored
    contempt targets, G_l raised both corners alike (6 % and 5 % of the mouth's width on this
    photo); trained without, the right one (11 %, the other 2 %)."""
    from lgan_cli.faces.decode import load_image
    from lgan_cli.faces.detect import FaceDetector

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    photo = next(p for p in example_photos if p.name == "london_042_neutral.jpg")
    args = ["--model", "london-all-warp-128", "--expr", "contemptuous", "--intensity", "4"]
    _, target = edit_with_landmarks(photo, args, tmp_path, capsys)
    with FaceDetector(max_faces=1) as detector:
        source = detector.detect(load_image(photo))[0].points68
    rise = (source[:, 1] - target[:, 1]) / np.linalg.norm(source[54] - source[48])
    assert rise[48] > 0.08 and rise[48] > 3 * rise[54]  # the subject's right corner (image left)


@needs_ict
def test_training_with_geometry_targets_and_synthetic_pairs_runs_a_real_step(example_pairs, tmp_path):
    config = RunConfig(
        model=ModelConfig(
            resolution=64,
            expressions=RAFD_EXPRESSIONS,
            intensity_levels=4,
            generator_width=8,
            discriminator_width=8,
            synthesis_region="mouth",
        ),
        loss=LossConfig(identity=False, mask_sparsity=0, mask_smoothness=0, painted_reconstruction=10.0),
        data=DataConfig(geometry_targets=True),
        train=TrainConfig(
            epochs=1,
            max_steps=2,
            log_every=1,
            sample_every=0,
            validate_every=0,
            checkpoint_every=0,
            landmark_warmup_batch_size=4,
        ),
    )
    geometry = PointTargets(geometry_targets(example_pairs.split("train"), RAFD_EXPRESSIONS), 64)
    trainer = Trainer(config, tmp_path, PairData(example_pairs, "train"), torch.device("cpu"), geometry=geometry)
    shapes = torch.cat([geometry.target_points, PairData(example_pairs, "train").all_points])
    pdm = trainer.model.g_l.pdm
    residual = shapes.reshape(len(shapes), -1) - pdm.mean
    kept = (residual @ pdm.modes.T) @ pdm.modes
    assert (residual - kept).norm(dim=1).mean() < 0.5 * residual.norm(dim=1).mean()  # the PDM spans the new shapes
    trainer.fit()
    stats = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert all(np.isfinite(stats[-1][k]) for k in ("geometry_G_l_landmark", "geometry_D_l0", "G_e_recon", "painted_l1"))


def test_a_two_label_model_grows_into_eight_labels_with_the_same_outputs():
    small = ModelConfig(resolution=64, expressions=("neutral", "happy"), generator_width=8)
    big = replace(small, expressions=RAFD_EXPRESSIONS, intensity_levels=4)
    source, grown = LandmarkGAN(small).eval(), LandmarkGAN(big).eval()
    torch.manual_seed(0)
    for tensor in source.parameters():  # trained-looking weights, no zero columns
        tensor.data.normal_(0, 0.05)
    rng = np.random.default_rng(0)
    modes = rng.normal(0, 3, (16, 136))  # shapes of rank 10 (old data) and 16 (old + new expressions)
    shapes = (32 + rng.normal(size=(40, 10)) @ modes[:10]).reshape(40, 68, 2)
    richer = (32 + rng.normal(size=(60, 16)) @ modes).reshape(60, 68, 2)
    source.g_l.pdm.set_model(fit_pdm(shapes, small.pdm_components))
    grown.g_l.pdm.set_model(fit_pdm(np.concatenate([shapes, richer]), small.pdm_components))
    weights = {k: v for k, v in source.state_dict().items() if not k.startswith("g_l.pdm.")}
    weights = grow_labels(weights, grown.state_dict(), small, big)
    weights["g_l.head.4.weight"], weights["g_l.head.4.bias"] = reexpress_head(
        weights["g_l.head.4.weight"], weights["g_l.head.4.bias"], source.g_l.pdm, grown.g_l.pdm
    )
    grown.load_state_dict({**grown.state_dict(), **weights})
    crop, points = torch.rand(2, 3, 64, 64) * 2 - 1, torch.from_numpy(shapes[:2]).float()
    with torch.no_grad():
        small_points = source.g_l(crop, source.encode_labels(["happy", "neutral"]))
        big_labels = encode_labels(big, ["happy", "neutral"], [None, None])
        big_labels[:, len(RAFD_EXPRESSIONS) :] = 0  # the old model had no level inputs
        big_points = grown.g_l(crop, big_labels)
        assert torch.allclose(big_points, small_points, atol=0.05)  # the same points through another PDM
        _, old = source.render(crop, small_points, source.encode_labels(["happy", "neutral"]), points)
        _, new = grown.render(crop, small_points, big_labels, points)
    assert torch.allclose(old["image"], new["image"], atol=1e-5)


# ----- measuring the mouth -----------------------------------------------------------------


def test_mouth_interior_brightness_tells_a_cavity_from_stretched_lips(crop_points):
    points = _mouth(crop_points, 8.0) * 4  # a 256 px face
    image = np.full((256, 256, 3), 150, np.uint8)
    assert mouth_interior_brightness(image, points) == pytest.approx(1.0)  # lips stretched over the gap
    import cv2

    cavity = image.copy()
    cv2.fillPoly(cavity, [np.round(points[list(INNER_LIPS)]).astype(np.int32)], (30, 20, 20))
    assert mouth_interior_brightness(cavity, points) < 0.4
    assert mouth_interior_brightness(image, _mouth(crop_points, 0.0) * 4) is None  # a closed mouth


@needs_ict
def test_fitted_geometry_as_stage_one_moves_to_the_geometry_editors_points(example_pairs):
    """The comparison row of `lgan eval --photos --geometry`: a model whose G_l is replaced by the
    fitted 3D model gets exactly the geometry editor's target points (and renders them itself)."""
    from lgan_cli.models.editor import LandmarkGANEditor
    from lgan_cli.models.geometry_editor import GeometryEditor

    item = example_pairs.split("train")[0]
    crops = torch.from_numpy(item.load_crop().copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    points = torch.from_numpy(item.points68)[None]
    config = ModelConfig(resolution=64, expressions=RAFD_EXPRESSIONS, intensity_levels=4, generator_width=8)
    editor = LandmarkGANEditor(LandmarkGAN(config).eval(), "tiny", fitted_points=True)
    with torch.no_grad():
        fitted = editor.edit(crops, points, ["surprised"], [3])
    geometric = GeometryEditor().edit(crops, points, ["surprised"], [3])
    assert "fitted geometry" in editor.name
    assert torch.allclose(fitted.points68, geometric.points68, atol=1e-4)
    assert not torch.allclose(fitted.points68, points, atol=0.5)
