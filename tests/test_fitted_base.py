"""Stage I on the fitted base (`ModelConfig.landmark_base: fitted`): G_l corrects the fitted 3D
face model's target points instead of regressing the whole shape, and learns that correction
from the photo pairs' own points mixed into the 3D model's targets (`photo_point_share`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_geometry import ICT_NPZ, SKIP_ICT

from lgan_cli.data.geometry_targets import fitted_request_points, geometry_targets, photo_point_targets
from lgan_cli.data.records import RAFD_EXPRESSIONS
from lgan_cli.models.config import ModelConfig
from lgan_cli.models.editor import LandmarkGANEditor
from lgan_cli.models.generators import LandmarkGAN
from lgan_cli.models.pdm import fit_pdm
from lgan_cli.train.config import AugmentConfig, DataConfig, LossConfig, RunConfig, TrainConfig
from lgan_cli.train.data import PairData, PointTargets
from lgan_cli.train.trainer import Trainer

from conftest import prepare_examples

needs_ict = pytest.mark.skipif(not ICT_NPZ.is_file(), reason=SKIP_ICT)
TINY = ModelConfig(resolution=64, expressions=RAFD_EXPRESSIONS, intensity_levels=4, generator_width=8)
FITTED = ModelConfig(**{**TINY.to_json(), "landmark_base": "fitted"})


@pytest.fixture(scope="module")
def example_pairs(tmp_path_factory, example_photos):
    return prepare_examples(tmp_path_factory.mktemp("examples"), example_photos, test_ids=None)


def _crops_and_points(items) -> tuple[torch.Tensor, torch.Tensor]:
    crops = torch.stack([torch.from_numpy(i.load_crop().copy()).permute(2, 0, 1) for i in items]).float() / 127.5 - 1
    return crops, torch.from_numpy(np.stack([i.points68 for i in items]))


def test_a_fresh_g_l_on_the_fitted_base_returns_the_fitted_points_and_needs_them():
    model = LandmarkGAN(FITTED).eval()
    crops, labels = torch.rand(2, 3, 64, 64) * 2 - 1, model.encode_labels(["happy", "sad"], [4, 2])
    fitted = 20 + 20 * torch.rand(2, 68, 2)
    with torch.no_grad():
        assert torch.equal(model.g_l(crops, labels, fitted), fitted)
        shapes = 32 + 8 * np.random.default_rng(0).normal(size=(40, 68, 2))
        model.g_l.pdm.set_model(fit_pdm(shapes, FITTED.pdm_components))
        assert torch.equal(model.g_l(crops, labels, fitted), fitted)  # a zero correction in any PDM
        model.g_l.head[-1].weight.normal_(0, 0.1)  # a trained correction moves them, per sample
        corrected = model.g_l(crops, labels, fitted)
        assert not torch.allclose(corrected, fitted, atol=1e-3)
        assert torch.allclose(model.g_l(crops, labels, fitted + 1) - corrected, torch.ones_like(fitted), atol=1e-5)
    with pytest.raises(ValueError, match="fitted"):
        model.g_l(crops, labels)
    mean_based = LandmarkGAN(TINY).eval()
    with torch.no_grad():  # the paper's G_l ignores them
        assert torch.equal(mean_based.g_l(crops, labels), mean_based.g_l(crops, labels, fitted))
    with pytest.raises(ValueError, match="landmark_base"):
        ModelConfig(landmark_base="detected")


@needs_ict
def test_the_editor_hands_g_l_the_fitted_points_of_each_request(example_pairs):
    """Untrained (a zero correction), a G_l on the fitted base edits exactly as the fitted 3D
    model in its place does, at every level; anchoring asks it for the fitted neutral too."""
    crops, points = _crops_and_points(example_pairs.split("train")[:2])
    model = LandmarkGAN(FITTED).eval()
    ours = LandmarkGANEditor(model, "fitted base")
    fitted = LandmarkGANEditor(model, "fitted", fitted_points=True)
    with torch.no_grad():
        for expressions, levels in ((["surprised", "contemptuous"], [4, 2]), (["neutral", "happy"], [None, 0.5])):
            a = ours.edit(crops, points, expressions, levels).points68
            b = fitted.edit(crops, points, expressions, levels).points68
            assert torch.allclose(a, b, atol=1e-4)
        anchored = LandmarkGANEditor(model, "anchored", target_points="anchored")
        assert torch.isfinite(anchored.edit(crops, points, ["sad", "happy"], [3, 4]).points68).all()


@needs_ict
def test_the_3d_models_targets_are_their_own_fitted_points_and_the_photos_are_not(example_pairs):
    items = example_pairs.split("train")
    targets = geometry_targets(items[:2], ("neutral", "happy", "sad"))
    again = fitted_request_points(
        np.stack([t.source.points68 for t in targets]), [t.expression for t in targets], [t.level for t in targets]
    )
    assert np.allclose(np.stack([t.fitted for t in targets]), again, atol=1e-4)  # the same request, the same fit
    assert all(np.array_equal(t.points68, t.fitted) for t in targets)  # nothing for G_l to correct
    photos = photo_point_targets(example_pairs.pairs("train", "all"))
    assert photos
    gaps = [np.abs(t.points68 - t.fitted).mean() for t in photos]
    assert min(gaps) > 0.05  # a real face's target is not the 3D model's: there is a correction to learn
    smiling = next(t for t in photos if t.expression == "happy")
    assert smiling.level is None  # the photo's label: the full expression
    assert np.allclose(smiling.fitted, fitted_request_points(smiling.source.points68[None], ["happy"], [4])[0])


@needs_ict
def test_photo_targets_are_drawn_at_their_share_and_move_with_the_crop(example_pairs):
    items = example_pairs.split("train")
    geometry = geometry_targets(items, ("neutral", "happy"))
    photos = photo_point_targets(example_pairs.pairs("train", "all"))
    mixed = PointTargets(geometry, 64, photos, photo_share=0.25)
    draws = np.array(mixed.draw(4000, torch.Generator().manual_seed(0)))
    assert 0.22 < (draws >= len(geometry)).mean() < 0.28
    plain = PointTargets(geometry, 64)  # no photo targets: the uniform draw as before
    assert (
        plain.draw(16, torch.Generator().manual_seed(3))
        == torch.randint(len(plain), (16,), generator=torch.Generator().manual_seed(3)).tolist()
    )
    with pytest.raises(ValueError, match="photo_share"):
        PointTargets(geometry, 64, photos, photo_share=0.0)
    index = [len(geometry)]  # a photo target: its fitted points and its own differ, and move alike
    still = mixed.batch(index)
    augment = AugmentConfig(flip=True, shift=0.05, scale=0.05, rotate=5.0)
    for seed in range(3):
        moved = mixed.batch(index, augment, torch.Generator().manual_seed(seed))
        # one similarity moves both point sets: each point's gap between them is kept up to the zoom
        # (and a flip's reordering of the points)
        before = (still["target_points"] - still["fitted_points"]).norm(dim=-1)[0].sort().values
        after = (moved["target_points"] - moved["fitted_points"]).norm(dim=-1)[0].sort().values
        ratio = after[before > 0.2] / before[before > 0.2]
        assert float(ratio.std()) < 1e-3 and 0.94 < float(ratio.mean()) < 1.06
        assert not torch.equal(moved["fitted_points"], still["fitted_points"])


def test_points_in_the_targets_frame_move_exactly_as_the_target_points():
    from lgan_cli.train.data import augment_pair

    source = torch.rand(3, 3, 64, 64) * 2 - 1
    source_points, target_points, extra = (20 + 25 * torch.rand(3, 68, 2) for _ in range(3))
    augment = AugmentConfig(flip=True, colour=0.1, shift=0.05, scale=0.05, rotate=5.0)
    alone = augment_pair(source, None, source_points, extra, augment, torch.Generator().manual_seed(1))
    both = augment_pair(
        source, None, source_points, target_points, augment, torch.Generator().manual_seed(1), None, (extra,)
    )
    assert len(both) == 5 and torch.equal(both[4], alone[3]) and torch.equal(both[0], alone[0])


@needs_ict
def test_a_run_grows_a_paper_g_l_onto_the_fitted_base_and_trains(example_pairs, tmp_path):
    """`init_from` a mean-shape model: G_l keeps its encoder, its last layer starts at zero (so its
    first points are the fitted ones) and G_e is taken whole; warm-up and joint steps run."""
    from lgan_cli.models.checkpoint import save_inference

    source_dir = tmp_path / "source"
    source = LandmarkGAN(TINY)
    save_inference(source, source_dir)
    config = RunConfig(
        model=FITTED,
        loss=LossConfig(identity=False),
        data=DataConfig(geometry_targets=True, photo_point_share=0.5),
        train=TrainConfig(
            epochs=1,
            max_steps=1,
            log_every=1,
            sample_every=0,
            validate_every=0,
            checkpoint_every=0,
            landmark_warmup_steps=2,
            landmark_warmup_batch_size=4,
            init_from=str(source_dir),
        ),
    )
    geometry = PointTargets(
        geometry_targets(example_pairs.split("train"), RAFD_EXPRESSIONS),
        64,
        photo_point_targets(example_pairs.pairs("train", "all")),
        0.5,
    )
    pairs = PairData(example_pairs, "train").attach_fitted_requests()
    (tmp_path / "run").mkdir()
    trainer = Trainer(config, tmp_path / "run", pairs, torch.device("cpu"), geometry=geometry)
    theirs = source.state_dict()
    for name, tensor in trainer.model.state_dict().items():
        if name.startswith("g_e.") or name.startswith("g_l.encoder."):
            assert torch.equal(tensor, theirs[name]), name
    assert not trainer.model.g_l.head[-1].weight.any()
    trainer.fit()
    stats = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    assert np.isfinite(stats[-1]["G"]) and np.isfinite(stats[-1]["geometry_G_l_landmark"])
    assert [row["G_l_landmark"] > 0 for row in stats if "warmup_step" in row] == [True, True]
    with pytest.raises(ValueError, match="geometry_targets"):
        DataConfig(photo_point_share=0.3)


@needs_ict
def test_the_run_mixes_in_only_the_photo_targets_it_names(example_pairs):
    from dataclasses import replace

    from lgan_cli.train.setup import training_data

    data = DataConfig(geometry_targets=True, photo_point_share=0.2, photo_point_expressions=("neutral",))
    config = RunConfig(model=FITTED, data=data)
    pairs, geometry = training_data(config, example_pairs)
    photos = geometry.target_expressions[geometry.geometry_count :]
    assert photos and set(photos) == {"neutral"}
    assert pairs.fitted_points is not None and pairs.batch([0])["fitted_points"].shape == (1, 68, 2)
    _, every = training_data(replace(config, data=replace(data, photo_point_expressions=None)), example_pairs)
    assert set(every.target_expressions[every.geometry_count :]) == {"neutral", "happy"}
    with pytest.raises(ValueError, match="photo_point_share"):
        DataConfig(geometry_targets=True, photo_point_expressions=("neutral",))
