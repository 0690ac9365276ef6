"""`lgan train`: train LandmarkGAN on a dataset, into a numbered run folder."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from lgan_cli.cli.common import command, console
from lgan_cli.data.adapters import ADAPTERS
from lgan_cli.errors import LganError

Opt = typer.Option
LOG_SECONDS = 30.0


@command(
    epilog=(
        "Examples:\n\n"
        "  lgan train --dataset london --data-root ../shared/datasets/london --resolution 64 --epochs 1\n\n"
        "  lgan train --config configs/london-128.json --data-root ../shared/datasets/london\n\n"
        "  lgan train --dataset rafd --data-root ~/data/RaFD --resolution 256 --no-identity-loss --name no-id\n\n"
        "  lgan train --resume runs/00003-london\n\n"
        "  lgan train --config configs/ict-synth-128.json --init-from runs/00002-ict-synth-128 --landmark-warmup-steps 6000\n\n"
        "  torchrun --nproc_per_node=2 -m lgan_cli train --dataset london --data-root ../shared/datasets/london"
    )
)
def train(
    dataset: Annotated[Optional[str], Opt(help=f"Dataset: {', '.join(sorted(ADAPTERS))}.", show_default=False)] = None,
    data_root: Annotated[Optional[Path], Opt(help="Folder holding the dataset.", show_default=False)] = None,
    prepared: Annotated[Optional[Path], Opt(help="Prepared-data folder (default prepared/<dataset>-<resolution>).", show_default=False)] = None,
    config: Annotated[Optional[Path], Opt(help="JSON recipe (a run's config.json works too); flags override it.", show_default=False)] = None,
    resolution: Annotated[Optional[int], Opt(help="Crop size S (power of two, 64..512) [paper: 256; default 128].", show_default=False)] = None,
    epochs: Annotated[Optional[int], Opt(min=1, help="Epochs [paper: 200].", show_default=False)] = None,
    batch_size: Annotated[Optional[int], Opt(min=1, help="Batch size [paper: 1].", show_default=False)] = None,
    max_steps: Annotated[Optional[int], Opt(min=1, help="Stop after this many steps (a time budget).", show_default=False)] = None,
    lr_decay_epochs: Annotated[Optional[int], Opt(min=0, help="Decay the learning rate linearly to 0 over the last N epochs.", show_default=False)] = None,
    width: Annotated[Optional[int], Opt(min=8, help="Generator width (first U-Net layer) [64].", show_default=False)] = None,
    disc_width: Annotated[Optional[int], Opt(min=8, help="Discriminator width [64].", show_default=False)] = None,
    test_ids: Annotated[Optional[str], Opt(help="Held-out identities 'id1,id2' or a file of ids.", show_default=False)] = None,
    pairs: Annotated[Optional[str], Opt(help="Training pairs: 'all' ordered pairs of a person, or 'neutral' (only to and from neutral) [all].", show_default=False)] = None,
    seed: Annotated[Optional[int], Opt(help="Seed of the weights, data order and augmentation.", show_default=False)] = None,
    out: Annotated[Path, Opt(help="Folder of numbered run folders.")] = Path("runs"),
    name: Annotated[Optional[str], Opt(help="Run name (folder suffix).", show_default=False)] = None,
    resume: Annotated[Optional[Path], Opt(help="Continue this run folder from its last checkpoint.", show_default=False)] = None,
    init_from: Annotated[Optional[Path], Opt(help="Start a new run from this run's (or model folder's) generators: G_l when its settings match, G_e too when the renderer does; discriminators and optimisers start fresh.", show_default=False)] = None,
    landmark_warmup_steps: Annotated[Optional[int], Opt(min=0, help="First train G_l alone on the landmark loss (Eq. 4) for N steps of 16 pairs [0].", show_default=False)] = None,
    device: Annotated[str, Opt(help="auto, cpu or cuda.")] = "auto",
    no_identity_loss: Annotated[bool, Opt("--no-identity-loss", help="Ablation: drop Eq. 8.")] = False,
    no_landmark_loss: Annotated[bool, Opt("--no-landmark-loss", help="Ablation: drop Eq. 4.")] = False,
    single_discriminator: Annotated[bool, Opt("--single-discriminator", help="Ablation: one PatchGAN per stage.")] = False,
    recon: Annotated[Optional[str], Opt(help="Reconstruction loss: l1, l2 or l12 (Eq. 7) [l12].", show_default=False)] = None,
    labels: Annotated[Optional[str], Opt(help="Expression label to: gl, ge or both [both].", show_default=False)] = None,
    renderer: Annotated[Optional[str], Opt(help="Stage II: 'warp' (moves the photo's pixels, synthesises what is new) or 'unet' (the paper's G_e) [warp].", show_default=False)] = None,
    no_synthesis: Annotated[bool, Opt("--no-synthesis", help="Warp renderer without its synthesis mask: the learned flow alone.")] = False,
    identity_pairs: Annotated[bool, Opt("--identity-pairs", help="Also train on (photo, photo) pairs with the photo's own label, so an edit that asks for no change makes none.")] = False,
    no_soft_crops: Annotated[bool, Opt("--no-soft-crops", help="Ablation: black landmark dots.")] = False,
    augment: Annotated[Optional[bool], Opt("--augment/--no-augment", help="Flips, colour and small geometric jitter.", show_default=False)] = None,
    sample_every: Annotated[Optional[int], Opt(min=0, help="Steps between sample grids.", show_default=False)] = None,
    checkpoint_every: Annotated[Optional[int], Opt(min=0, help="Steps between checkpoints.", show_default=False)] = None,
) -> None:
    """Train LandmarkGAN (both stages end to end) with the paper's losses and defaults.

    Writes runs/NNNNN-<name>/: config.json (the resolved settings), stats.jsonl (losses,
    validation metrics), samples/ (input | generated landmarks | output | target),
    model.safetensors (the generators, for `lgan edit` / `lgan eval`) and training_state.pt
    (for --resume). Ctrl-C saves a checkpoint and exits cleanly.
    """
    from lgan_cli.train import setup
    from lgan_cli.train.config import RunConfig
    from lgan_cli.train.distributed import barrier, init_distributed

    dist_info = init_distributed(device)
    if resume is not None:
        setup.check_resumable(resume)
        run_config = _extend(setup.read_run_config(resume), epochs, lr_decay_epochs)
        run_dir = resume
    else:
        try:  # a bad value in the recipe or a flag is a one-line error, not a traceback
            run_config = setup.run_config_from_file(config) if config else RunConfig()
            run_config = _apply_flags(run_config, locals())
        except ValueError as exc:
            raise LganError(str(exc)) from None
        run_dir = None
    torch_device = setup.pick_device(device, dist_info.local_rank)

    data_root_text = run_config.data.data_root
    if not run_config.data.dataset:
        raise LganError("--dataset is required (or a --config that names one)")
    # rank 0 prepares the data (if needed) while the others wait, then everyone loads it
    if dist_info.is_main:
        prepared_data = setup.ensure_prepared(run_config)
    barrier(dist_info)
    if not dist_info.is_main:
        prepared_data = setup.ensure_prepared(run_config)
    if resume is None:
        run_config = setup.with_dataset_labels(run_config, prepared_data)
    _run(run_config, run_dir, prepared_data, torch_device, dist_info, out, data_root_text)


def _extend(config, epochs: int | None, lr_decay_epochs: int | None):
    """A resumed run keeps its recipe; only --epochs / --lr-decay-epochs may lengthen it
    (e.g. to train a finished run further, with a new decay at the new end)."""
    if epochs is None and lr_decay_epochs is None:
        return config
    train_cfg = replace(
        config.train,
        epochs=config.train.epochs if epochs is None else epochs,
        lr_decay_epochs=config.train.lr_decay_epochs if lr_decay_epochs is None else lr_decay_epochs,
    )
    if train_cfg.lr_decay_epochs > train_cfg.epochs:
        raise LganError(f"--lr-decay-epochs {train_cfg.lr_decay_epochs} is more than the run's {train_cfg.epochs} epochs")
    return replace(config, train=train_cfg)


def _apply_flags(config, flags: dict):
    """Layer the flags that were given over the recipe."""
    from lgan_cli.data.splits import parse_id_list
    from lgan_cli.train.config import AugmentConfig

    model, loss, data, train_cfg, augment_cfg = config.model, config.loss, config.data, config.train, config.augment
    given = lambda key: flags.get(key) is not None  # noqa: E731
    if given("dataset"):
        data = replace(data, dataset=flags["dataset"])
    if given("data_root"):
        data = replace(data, data_root=str(flags["data_root"]))
    if given("test_ids"):
        data = replace(data, test_ids=tuple(parse_id_list(flags["test_ids"])))
    if given("pairs"):
        data = replace(data, pairs=flags["pairs"])
    if given("resolution"):
        model = replace(model, resolution=flags["resolution"])
    if given("width"):
        model = replace(model, generator_width=flags["width"])
    if given("disc_width"):
        model = replace(model, discriminator_width=flags["disc_width"])
    if given("labels"):
        model = replace(model, labels=flags["labels"])
    if given("renderer"):
        model = replace(model, renderer=flags["renderer"])
    if flags.get("no_synthesis"):
        model = replace(model, synthesis=False)
    if flags.get("identity_pairs"):
        data = replace(data, identity_pairs=True)
    if flags["no_soft_crops"]:
        model = replace(model, soft_crops=False)
    if flags["single_discriminator"]:
        model = replace(model, discriminator_layers=model.discriminator_layers[:1])
    if given("recon"):
        loss = replace(loss, reconstruction=flags["recon"])
    if flags["no_identity_loss"]:
        loss = replace(loss, identity=False)
    if flags["no_landmark_loss"]:
        loss = replace(loss, landmark=False)
    for key in ("epochs", "batch_size", "max_steps", "lr_decay_epochs", "seed", "sample_every", "checkpoint_every", "landmark_warmup_steps"):
        if given(key):
            train_cfg = replace(train_cfg, **{key: flags[key]})
    if given("init_from"):
        if not (Path(flags["init_from"]) / "model.safetensors").is_file():
            raise ValueError(f"--init-from {flags['init_from']}: no model.safetensors there")
        train_cfg = replace(train_cfg, init_from=str(flags["init_from"]))
    train_cfg = replace(train_cfg, device=flags["device"])
    if flags.get("augment") is True:
        augment_cfg = AugmentConfig(flip=True, colour=0.1, shift=0.03, scale=0.05, rotate=3.0)
    elif flags.get("augment") is False:
        augment_cfg = AugmentConfig()
    if not data.prepared or given("prepared") or given("resolution") or given("dataset"):
        prepared = flags.get("prepared") or Path("prepared") / f"{data.dataset}-{model.resolution}"
        data = replace(data, prepared=str(prepared))
    name = flags.get("name") or (config.name if config.name != "run" else data.dataset)
    return replace(config, name=name, model=model, loss=loss, data=data, train=train_cfg, augment=augment_cfg)


def _run(run_config, run_dir, prepared_data, device, dist_info, out: Path, data_root_text: str) -> None:
    from lgan_cli.train import setup
    from lgan_cli.train.checkpoint import STATE_NAME
    from lgan_cli.train.data import PairData
    from lgan_cli.train.trainer import Trainer

    data_cfg = run_config.data
    train_pairs = PairData(
        prepared_data, "train", data_cfg.source_expressions, data_cfg.target_expressions, data_cfg.pairs,
        register=data_cfg.register_pairs, identity_pairs=data_cfg.identity_pairs,
    )
    new_run = run_dir is None
    if new_run:
        run_dir = _shared_run_dir(out, run_config.name, dist_info)
    split = setup.validation_split(prepared_data)
    try:  # e.g. --init-from a model with other settings
        trainer = Trainer(
            run_config, run_dir, train_pairs, device,
            validation=prepared_data if split else None, validation_split=split or "test",
            dist_info=dist_info, info=setup.run_info(run_config),
        )
    except (ValueError, LganError) as exc:
        if new_run and dist_info.is_main:  # no empty run folder left behind by a refused start
            run_dir.rmdir()
        raise LganError(str(exc)) from None
    resumed = (run_dir / STATE_NAME).exists()
    note = trainer.resume() if resumed else None
    if dist_info.is_main:
        from lgan_cli.models.checkpoint import write_config

        # the resolved settings, from the start (and a resumed run's new length, if extended)
        write_config(run_dir, run_config.model, setup.run_info(run_config))
    if dist_info.is_main:
        console.print(
            f"{'resuming' if resumed else 'training'} {run_dir} on {device}: {len(train_pairs)} pairs, "
            f"{trainer.steps_per_epoch} steps/epoch, {trainer.total_steps} steps"
            + (f" after {run_config.train.landmark_warmup_steps} G_l warm-up steps" if run_config.train.landmark_warmup_steps else "")
            + (f", from step {trainer.step}" if resumed else "")
        )
        if note:
            console.print(f"note: {note}")
    columns = (
        TextColumn("[bold]{task.description}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("ep {task.fields[epoch]}"),
        TextColumn("{task.fields[losses]}"), TimeElapsedColumn(), TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not dist_info.is_main) as progress:
        warmup_steps = run_config.train.landmark_warmup_steps
        warmup = progress.add_task("warm-up", total=warmup_steps, completed=trainer.warmup_step, epoch="-", losses="") if warmup_steps else None
        task = progress.add_task("train", total=trainer.total_steps, completed=trainer.step, epoch=trainer.epoch, losses="")

        last_line = [time.monotonic()]

        def on_progress(p) -> None:
            s = p.stats
            if p.phase == "warm-up":
                losses = f"G_l alone: lm {s['G_l_landmark']:.2f}"
                progress.update(warmup, completed=p.step, losses=losses)
            else:
                losses = f"G {s['G']:.2f} rec {s['G_e_recon']:.3f} lm {s['G_l_landmark']:.2f} D_e {s['D_e0']:.2f}"
                progress.update(task, completed=p.step, epoch=p.epoch, losses=losses)
            # a log file gets no live bar: write a plain line every half minute instead
            if dist_info.is_main and not console.is_terminal and time.monotonic() - last_line[0] > LOG_SECONDS:
                console.print(f"{p.phase} step {p.step}/{p.total_steps} epoch {p.epoch}: {losses}")
                last_line[0] = time.monotonic()

        outcome = trainer.fit(on_progress)
    if dist_info.is_main:
        console.print(f"{outcome} at step {trainer.step} (epoch {trainer.epoch}); checkpoint in {run_dir}")
        if outcome == "interrupted":
            console.print(f"continue with: lgan train --resume {run_dir}")
        else:
            console.print(
                f"evaluate with: lgan eval --model {run_dir} --dataset {data_cfg.dataset} "
                f"--data-root {data_root_text or '<DIR>'} --prepared {data_cfg.prepared}"
            )
    from lgan_cli.train.distributed import shutdown

    shutdown(dist_info)


def _shared_run_dir(out: Path, name: str, dist_info) -> Path:
    """Rank 0 creates the numbered folder; the other processes learn its path."""
    from lgan_cli.train.runs import new_run_dir

    folder = new_run_dir(out, name) if dist_info.is_main else None
    if dist_info.enabled:
        import torch.distributed as dist

        holder = [str(folder) if folder else None]
        dist.broadcast_object_list(holder, src=0)
        folder = Path(holder[0])
    return folder
