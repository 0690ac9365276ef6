"""Training: one real step, overfitting a few London pairs, resume equivalence, checkpoints, DDP."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from PIL import Image

from lgan_cli.data.prepare import PrepareConfig, prepare_dataset
from lgan_cli.data.prepared import PreparedDataset
from lgan_cli.models.checkpoint import load_inference, save_inference
from lgan_cli.models.config import ModelConfig
from lgan_cli.train.config import LossConfig, RunConfig, TrainConfig
from lgan_cli.train.data import PairData
from lgan_cli.train.trainer import Trainer

from conftest import prepare_examples

TINY = ModelConfig(resolution=64, expressions=("neutral", "happy"), generator_width=8, discriminator_width=8)


@pytest.fixture(scope="module")
def example_pairs(tmp_path_factory, example_photos) -> PreparedDataset:
    """Person 030's neutral and smiling example photos (a pair each way) plus two others, at 64 px."""
    return prepare_examples(tmp_path_factory.mktemp("examples"), example_photos, test_ids=None)


def make_config(**train) -> RunConfig:
    settings = dict(epochs=2, log_every=1, sample_every=0, validate_every=0, checkpoint_every=0, seed=3)
    settings.update(train)
    return RunConfig(model=TINY, loss=LossConfig(identity=False), train=TrainConfig(**settings))


def test_one_full_step_with_every_loss(example_pairs, tmp_path):
    config = RunConfig(model=TINY, train=TrainConfig(epochs=1, log_every=1, sample_every=1, validate_every=0))
    trainer = Trainer(config, tmp_path, PairData(example_pairs, "train"), torch.device("cpu"))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    stats = [json.loads(line) for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert len(stats) == 2 and all(k in stats[0] for k in ("G_l_landmark", "G_e_recon", "G_e_identity", "D_l1", "D_e1"))
    after = trainer.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if "g_l.encoder" in k)  # G_l was trained
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "training_state.pt").exists()
    grid = Image.open(sorted((tmp_path / "samples").iterdir())[0])
    assert grid.size == (4 * 64, 2 * 64)  # input | landmarks | output | target, one row per pair


def test_resume_continues_with_identical_losses(example_pairs, tmp_path):
    data = PairData(example_pairs, "train")
    straight = Trainer(make_config(epochs=3), tmp_path / "a", data, torch.device("cpu"))
    (tmp_path / "a").mkdir()
    straight.fit()

    (tmp_path / "b").mkdir()
    first = Trainer(make_config(epochs=3, max_steps=3), tmp_path / "b", data, torch.device("cpu"))
    first.fit()
    resumed = Trainer(make_config(epochs=3), tmp_path / "b", data, torch.device("cpu"))
    resumed.resume()
    assert resumed.step == 3
    resumed.fit()

    def losses(folder: Path) -> list[dict]:
        lines = [json.loads(line) for line in (folder / "stats.jsonl").read_text().splitlines()]
        return [{k: v for k, v in line.items() if k != "time"} for line in lines]

    assert losses(tmp_path / "a") == losses(tmp_path / "b")
    assert len(losses(tmp_path / "a")) == 6


def test_checkpoint_round_trip(example_pairs, tmp_path):
    trainer = Trainer(make_config(epochs=1), tmp_path, PairData(example_pairs, "train"), torch.device("cpu"))
    trainer.fit()
    model, document = load_inference(tmp_path)
    items = example_pairs.items[:2]
    x = torch.from_numpy(np.stack([item.load_crop() for item in items])).permute(0, 3, 1, 2).float() / 127.5 - 1
    labels = model.encode_labels(["happy", "neutral"])
    source_points = torch.from_numpy(np.stack([item.points68 for item in items]))
    trainer.model.eval()
    with torch.no_grad():
        expected = trainer.model(x, labels, source_points)
        got = model(x, labels, source_points)
    for a, b in zip(expected, got):
        assert torch.equal(a, b)
    assert document["model"]["expressions"] == ["neutral", "happy"]
    assert document["model"]["renderer"] == "warp"
    save_inference(trainer.model, tmp_path / "half", half=True)
    small, _ = load_inference(tmp_path / "half")
    with torch.no_grad():
        assert (small(x, labels, source_points)[2] - expected[2]).abs().max() < 0.02
    assert (tmp_path / "half" / "model.safetensors").stat().st_size < 0.6 * (
        tmp_path / "model.safetensors"
    ).stat().st_size


def test_overfits_four_london_pairs(london_root, tmp_path):
    """A 64 px model with the paper's U-Net G_e: its reconstruction loss at least halves on four
    pairs within 150 steps."""
    from lgan_cli.data.adapters import scan_dataset

    records = [r for r in scan_dataset("london", london_root) if r.identity in {"002", "003"}]
    out = tmp_path / "prepared"
    prepare_dataset(
        PrepareConfig(dataset="london", data_root=str(london_root), resolution=64, test_ids=("001",)),
        out,
        records=records,
    )
    data = PairData(PreparedDataset.load(out), "train")
    assert len(data) == 4
    config = RunConfig(
        model=ModelConfig(
            resolution=64, expressions=("neutral", "happy"), generator_width=16, discriminator_width=16, renderer="unet"
        ),
        loss=LossConfig(identity=False),
        train=TrainConfig(
            epochs=1000, max_steps=150, batch_size=4, log_every=1, sample_every=0, validate_every=0, checkpoint_every=0
        ),
    )
    trainer = Trainer(config, tmp_path, data, torch.device("cpu"))
    trainer.fit()
    recon = [json.loads(line)["G_e_recon"] for line in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert min(recon[-10:]) < 0.5 * recon[0], (recon[0], recon[-10:])


def _ddp_worker(rank: int, port: int, prepared: str, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank)
    )
    from safetensors.torch import save_file

    from lgan_cli.train.distributed import init_distributed, shutdown

    info = init_distributed("cpu")
    torch.set_num_threads(1)
    data = PairData(PreparedDataset.load(prepared), "train")
    trainer = Trainer(make_config(epochs=2), Path(out), data, torch.device("cpu"), dist_info=info)
    trainer.fit()
    state = {
        k: v.contiguous() for k, v in {**trainer.model.state_dict(), **trainer.discriminators.state_dict()}.items()
    }
    save_file(state, os.path.join(out, f"rank{rank}.safetensors"))
    shutdown(info)


def test_ddp_replicas_stay_identical(example_pairs, tmp_path):
    """Two gloo processes train a few steps; DDP keeps the replicas' weights equal."""
    from safetensors.torch import load_file

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(port, str(example_pairs.root), str(tmp_path)), nprocs=2, join=True)
    a, b = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    trainable = [k for k in a if "running" not in k and "num_batches" not in k]
    assert trainable and all(torch.equal(a[k], b[k]) for k in trainable)
    assert (tmp_path / "model.safetensors").exists()  # rank 0 checkpointed
    stats = (tmp_path / "stats.jsonl").read_text().splitlines()
    assert len(stats) == 2  # 2 pairs split over 2 ranks: 1 step per epoch, logged once (rank 0)


def test_interrupt_saves_and_stops_cleanly(example_pairs, tmp_path):
    """Ctrl-C (SIGINT) finishes the current step, saves a checkpoint and returns 'interrupted'."""
    import signal

    trainer = Trainer(make_config(epochs=5), tmp_path, PairData(example_pairs, "train"), torch.device("cpu"))

    def press_ctrl_c(progress):
        if progress.step == 3:
            signal.raise_signal(signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)  # Python's own, or SIG_IGN in a job started in the background
    assert trainer.fit(press_ctrl_c) == "interrupted"
    assert trainer.step == 3
    from lgan_cli.train.checkpoint import load_training_state

    assert load_training_state(tmp_path / "training_state.pt")["step"] == 3
    assert signal.getsignal(signal.SIGINT) is before  # handler restored


def test_pdm_spans_the_augmented_shapes(example_pairs):
    """G_l's point model must express jittered faces, or the landmark loss has a floor."""
    from lgan_cli.models.pdm import PDMDecoder, fit_pdm
    from lgan_cli.train.config import AugmentConfig
    from lgan_cli.train.data import augmented_shapes

    from conftest import pdm_coefficients

    data = PairData(example_pairs, "train")
    augment = AugmentConfig(flip=True, shift=0.03, scale=0.05, rotate=3.0)
    batch = data.batch([0, 1, 0, 1], augment, torch.Generator().manual_seed(1))["target_points"]

    def floor(shapes: torch.Tensor) -> float:
        decoder = PDMDecoder(12)
        decoder.set_model(fit_pdm(shapes.numpy(), 12))
        return float((decoder(pdm_coefficients(decoder, batch)) - batch).norm(dim=-1).mean())

    assert floor(augmented_shapes(data.all_points, augment, 64)) < 0.1
    assert floor(data.all_points) > 0.3  # aligned shapes alone cannot express the jitter


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--pairs", "some", "pairs must be one of"),
        ("--labels", "g", "labels must be one of"),
        ("--init-from", "runs/none", "no model.safetensors there"),
    ],
)
def test_train_rejects_bad_settings_in_one_line(flag, value, message, tmp_path, capsys):
    from conftest import run_cli

    code, _, err = run_cli(["train", "--dataset", "london", "--out", tmp_path, flag, value], capsys)
    assert code == 1 and message in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing started


@pytest.mark.parametrize(
    "recipe", sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.json")), ids=lambda p: p.name
)
def test_bundled_recipes_load_and_round_trip(recipe):
    from lgan_cli.train.setup import load_config_file

    config = RunConfig.from_json(load_config_file(recipe))
    assert RunConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    assert config.data.prepared and config.model.resolution in (64, 128, 256)
    if config.data.dataset == "ict-synth":
        assert config.data.pairs == "neutral" and config.model.labels == "both"


def test_command_line_overrides_layer_over_a_recipe():
    from lgan_cli.train.config import AUGMENT_PRESET, AugmentConfig
    from lgan_cli.train.setup import with_overrides

    recipe = replace(make_config(epochs=10), name="run")
    recipe = replace(recipe, data=replace(recipe.data, dataset="london", prepared="prepared/x"))
    assert with_overrides(recipe, {}) == replace(recipe, name="london")  # nothing given: the recipe, named
    changed = with_overrides(
        recipe,
        {
            "epochs": 3,
            "width": 16,
            "resolution": 64,
            "no_identity_loss": True,
            "single_discriminator": True,
            "augment": True,
            "test_ids": "001,003",
            "no_synthesis": False,
            "name": "mine",
        },
    )
    assert (changed.train.epochs, changed.model.generator_width, changed.model.resolution) == (3, 16, 64)
    assert (
        changed.loss.identity is False and changed.model.discriminator_layers == recipe.model.discriminator_layers[:1]
    )
    assert changed.augment == AUGMENT_PRESET and changed.model.synthesis == recipe.model.synthesis
    assert changed.data.test_ids == ("001", "003") and changed.name == "mine"
    assert changed.data.prepared == "prepared/london-64"  # a new resolution: a new prepared folder
    assert with_overrides(changed, {"augment": False}).augment == AugmentConfig()


def test_resume_may_lengthen_a_run_but_keeps_its_recipe():
    from lgan_cli.errors import LganError
    from lgan_cli.train.setup import extended

    config = make_config(epochs=10, lr_decay_epochs=4)
    assert extended(config, None, None) == config
    longer = extended(config, 16, 3)
    assert (longer.train.epochs, longer.train.lr_decay_epochs) == (16, 3)
    assert longer.model == config.model and longer.loss == config.loss and longer.train.lr == config.train.lr
    assert extended(config, 12, None).train.lr_decay_epochs == 4
    with pytest.raises(LganError, match="more than"):
        extended(config, None, 11)


def _logged(folder: Path) -> list[dict]:
    lines = [json.loads(line) for line in (folder / "stats.jsonl").read_text().splitlines()]
    return [{k: v for k, v in line.items() if k != "time"} for line in lines]


def test_zero_epochs_after_a_warmup_refines_g_l_alone(example_pairs, tmp_path, capsys):
    """`--epochs 0` with a warm-up: a stage-I refinement; the saved G_e is exactly the one it started
    from, also when the refinement's config switches the renderer's inference settings (which change
    no weights; they once made init_from drop G_e and save a fresh one)."""
    first = tmp_path / "first"
    first.mkdir()
    Trainer(make_config(epochs=1), first, PairData(example_pairs, "train"), torch.device("cpu")).fit()
    refine = make_config(epochs=0, landmark_warmup_steps=5, landmark_warmup_batch_size=4, init_from=str(first))
    switched = replace(TINY, residual_keeps_motion=True, colour_smoothing=1.0, synthesis_region="mouth")
    assert switched != TINY and TINY.renderer == "warp"
    refine = replace(refine, model=switched)
    trainer = Trainer(refine, tmp_path / "second", PairData(example_pairs, "train"), torch.device("cpu"))
    (tmp_path / "second").mkdir()
    assert trainer.fit() == "finished" and trainer.step == 0
    start, _ = load_inference(first)
    refined, _ = load_inference(tmp_path / "second")
    old, new = start.state_dict(), refined.state_dict()
    assert all(torch.equal(old[k], new[k]) for k in old if k.startswith("g_e."))
    assert any(not torch.equal(old[k], new[k]) for k in old if k.startswith("g_l.encoder"))
    with pytest.raises(ValueError, match="epochs"):
        make_config(epochs=0)


def test_landmark_warmup_trains_g_l_alone_and_lowers_its_loss(example_pairs, tmp_path):
    trainer = Trainer(
        make_config(epochs=1, landmark_warmup_steps=30, landmark_warmup_batch_size=4),
        tmp_path,
        PairData(example_pairs, "train"),
        torch.device("cpu"),
    )
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    assert trainer._warm_up(None) == "finished"
    after = trainer.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("g_e."))  # G_e untouched
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("g_l.encoder"))
    warm = [line for line in _logged(tmp_path) if "warmup_step" in line]
    assert [line["warmup_step"] for line in warm] == list(range(1, 31))
    assert sum(line["G_l_landmark"] for line in warm[-5:]) < 0.8 * sum(line["G_l_landmark"] for line in warm[:5])


def test_resume_inside_the_warmup_continues_with_identical_losses(example_pairs, tmp_path):
    data = PairData(example_pairs, "train")
    config = make_config(epochs=2, landmark_warmup_steps=6, landmark_warmup_batch_size=2)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    Trainer(config, tmp_path / "a", data, torch.device("cpu")).fit()

    first = Trainer(config, tmp_path / "b", data, torch.device("cpu"))

    def stop_in_warmup(progress):
        if progress.phase == "warm-up" and progress.step == 3:
            first._stop_requested = True

    assert first.fit(stop_in_warmup) == "interrupted"
    resumed = Trainer(config, tmp_path / "b", data, torch.device("cpu"))
    resumed.resume()
    assert (resumed.warmup_step, resumed.step) == (3, 0)
    assert resumed.fit() == "finished"
    assert _logged(tmp_path / "a") == _logged(tmp_path / "b")
    assert len(_logged(tmp_path / "a")) == 6 + 2 * resumed.steps_per_epoch  # warm-up lines, then the joint steps


def test_init_from_starts_with_another_runs_generators(example_pairs, tmp_path):
    data = PairData(example_pairs, "train")
    (tmp_path / "first").mkdir()
    Trainer(make_config(epochs=1), tmp_path / "first", data, torch.device("cpu")).fit()
    started = Trainer(
        make_config(epochs=1, init_from=str(tmp_path / "first"), seed=9), tmp_path / "second", data, torch.device("cpu")
    )
    trained, _ = load_inference(tmp_path / "first")
    assert all(torch.equal(v, started.model.state_dict()[k]) for k, v in trained.state_dict().items())
    wider = RunConfig(model=replace(TINY, generator_width=16), train=TrainConfig(init_from=str(tmp_path / "first")))
    with pytest.raises(ValueError, match="model settings differ"):
        Trainer(wider, tmp_path / "third", data, torch.device("cpu"))


def _mask_means(folder: Path) -> list[float]:
    return [json.loads(line)["mask_mean"] for line in (folder / "stats.jsonl").read_text().splitlines()]


def test_warp_model_trains_and_its_mask_regulariser_keeps_synthesis_rare(example_pairs, tmp_path):
    """A 64 px warp model trains end to end with the paper's losses plus its regularisers; with the
    mask sparsity and smoothness terms its mask ends lower than the same run without them."""
    data = PairData(example_pairs, "train")
    finals = {}
    for name, loss in (
        ("regularised", LossConfig(identity=False)),
        ("free", LossConfig(identity=False, mask_sparsity=0.0, mask_smoothness=0.0)),
    ):
        config = replace(make_config(epochs=20, max_steps=12, batch_size=2), loss=loss)
        trainer = Trainer(config, tmp_path / name, data, torch.device("cpu"))
        (tmp_path / name).mkdir()
        before = {k: v.clone() for k, v in trainer.model.state_dict().items() if k.startswith("g_e.")}
        trainer.fit()
        after = trainer.model.state_dict()
        assert any(not torch.equal(v, after[k]) for k, v in before.items())  # G_e was trained
        stats = json.loads((tmp_path / name / "stats.jsonl").read_text().splitlines()[-1])
        assert all(k in stats for k in ("flow_tv", "mask_mean", "mask_tv", "G_e_recon", "D_e0"))
        finals[name] = _mask_means(tmp_path / name)
    assert finals["regularised"][-1] < finals["regularised"][0]
    assert finals["regularised"][-1] < finals["free"][-1]


KILLED_TRAINER = r"""
import json, os, signal, sys
from pathlib import Path

import torch

from lgan_cli.data.prepared import PreparedDataset
from lgan_cli.train.config import RunConfig
from lgan_cli.train.data import PairData
from lgan_cli.train.trainer import Trainer

prepared, run, recipe, moment, nth = sys.argv[1:]
rename, published = os.replace, []


def replace(source, target):
    # SIGKILL inside the nth checkpoint's publication: after both temporary files are written
    # ("before" any rename) or after the training state's rename ("between" the two)
    if Path(target).name == "training_state.pt":
        published.append(target)
        if len(published) == int(nth) and moment == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        rename(source, target)
        if len(published) == int(nth) and moment == "between":
            os.kill(os.getpid(), signal.SIGKILL)
        return
    rename(source, target)


os.replace = replace
config = RunConfig.from_json(json.loads(Path(recipe).read_text()))
Trainer(config, Path(run), PairData(PreparedDataset.load(prepared), "train"), torch.device("cpu")).fit()
"""


@pytest.mark.parametrize("moment", ["before", "between"])
def test_killed_while_saving_a_checkpoint_resumes_as_if_never_killed(example_pairs, tmp_path, moment):
    """SIGKILL in the middle of a checkpoint's publication: --resume continues from a consistent
    checkpoint, logs the same losses as an uninterrupted run and leaves no temporary file."""
    import subprocess
    import sys

    from lgan_cli.train.checkpoint import CHECKPOINT_KEY, checkpoint_id, load_training_state

    config = make_config(epochs=2, checkpoint_every=1)
    data = PairData(example_pairs, "train")
    (tmp_path / "straight").mkdir(), (tmp_path / "killed").mkdir()
    Trainer(config, tmp_path / "straight", data, torch.device("cpu")).fit()

    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps(config.to_json()))
    repo = Path(__file__).resolve().parents[1]
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLED_TRAINER,
            str(example_pairs.root),
            str(tmp_path / "killed"),
            str(recipe),
            moment,
            "3",
        ],
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -9, child.stderr[-2000:]
    run = tmp_path / "killed"
    left = sorted(p.name for p in run.glob(".*.tmp"))
    state = load_training_state(run / "training_state.pt")
    if moment == "before":
        assert left, "the kill should have left the unpublished temporary files"
        assert checkpoint_id(run / "model.safetensors") == state[CHECKPOINT_KEY]  # the previous pair, intact
    else:
        assert checkpoint_id(run / "model.safetensors") != state[CHECKPOINT_KEY]  # the state is newer

    resumed = Trainer(config, run, data, torch.device("cpu"))
    note = resumed.resume()
    assert (note is None) == (moment == "before")
    assert resumed.step == state["step"] and not list(run.glob(".*.tmp"))
    assert resumed.fit() == "finished"
    assert _logged(tmp_path / "straight") == _logged(run)
    assert checkpoint_id(run / "model.safetensors") == load_training_state(run / "training_state.pt")[CHECKPOINT_KEY]
    assert not list(run.glob(".*.tmp"))


def test_resume_refuses_a_run_folder_without_training_state(tmp_path, capsys):
    """The issue's data loss: --resume on a folder with weights but no training state used to
    start at step 0 and overwrite the trained weights."""
    from lgan_cli.models.generators import LandmarkGAN

    from conftest import run_cli

    save_inference(LandmarkGAN(TINY), tmp_path / "run", {"run": make_config().to_json()})  # weights, no state
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()}
    code, _, err = run_cli(["train", "--resume", tmp_path / "run", "--device", "cpu"], capsys)
    assert code == 1 and "--init-from" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()} == before


def test_stats_log_drops_a_line_torn_by_a_kill(tmp_path):
    """A process killed mid-append leaves half a line; resuming must read past it, not crash."""
    from lgan_cli.train.runs import StatsLog

    log = StatsLog(tmp_path / "stats.jsonl")
    log.path.write_text('{"step": 1, "G": 0.5}\n{"step": "x"}\n[1, 2]\n{"step": 2, "G": 0.4}\n{"step": 3, "G')
    assert log.read() == [{"step": 1, "G": 0.5}, {"step": "x"}, {"step": 2, "G": 0.4}]
    log.truncate_after(1)
    assert log.read() == [{"step": 1, "G": 0.5}]
