"""`lgan train`: train LandmarkGAN on a dataset, into a numbered run folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
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
        "  lgan train --config configs/ict-synth-128.json --init-from runs/00002-ict-synth-128 "
        "--landmark-warmup-steps 6000\n\n"
        "  torchrun --nproc_per_node=2 -m lgan_cli train --dataset london --data-root ../shared/datasets/london"
    )
)
def train(
    dataset: Annotated[Optional[str], Opt(help=f"Dataset: {', '.join(sorted(ADAPTERS))}.", show_default=False)] = None,
    data_root: Annotated[Optional[Path], Opt(help="Folder holding the dataset.", show_default=False)] = None,
    prepared: Annotated[
        Optional[Path], Opt(help="Prepared-data folder (default prepared/<dataset>-<resolution>).", show_default=False)
    ] = None,
    config: Annotated[
        Optional[Path], Opt(help="JSON recipe (a run's config.json works too); flags override it.", show_default=False)
    ] = None,
    resolution: Annotated[
        Optional[int],
        Opt(help=escape("Crop size S (power of two, 64..512) [paper: 256; default 128]."), show_default=False),
    ] = None,
    epochs: Annotated[
        Optional[int],
        Opt(min=0, help=escape("Epochs [paper: 200]; 0 with --landmark-warmup-steps: G_l alone."), show_default=False),
    ] = None,
    batch_size: Annotated[Optional[int], Opt(min=1, help=escape("Batch size [paper: 1]."), show_default=False)] = None,
    max_steps: Annotated[
        Optional[int], Opt(min=1, help="Stop after this many steps (a time budget).", show_default=False)
    ] = None,
    lr_decay_epochs: Annotated[
        Optional[int],
        Opt(min=0, help="Decay the learning rate linearly to 0 over the last N epochs.", show_default=False),
    ] = None,
    width: Annotated[
        Optional[int], Opt(min=8, help="Generator width (first U-Net layer) [64].", show_default=False)
    ] = None,
    disc_width: Annotated[Optional[int], Opt(min=8, help="Discriminator width [64].", show_default=False)] = None,
    test_ids: Annotated[
        Optional[str], Opt(help="Held-out identities 'id1,id2' or a file of ids.", show_default=False)
    ] = None,
    pairs: Annotated[
        Optional[str],
        Opt(
            help=escape(
                "Training pairs: 'all' ordered pairs of a person, or 'neutral' (only to and from neutral) [all]."
            ),
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        Optional[int], Opt(help="Seed of the weights, data order and augmentation.", show_default=False)
    ] = None,
    out: Annotated[Path, Opt(help="Folder of numbered run folders.")] = Path("runs"),
    name: Annotated[Optional[str], Opt(help="Run name (folder suffix).", show_default=False)] = None,
    resume: Annotated[
        Optional[Path], Opt(help="Continue this run folder from its last checkpoint.", show_default=False)
    ] = None,
    init_from: Annotated[
        Optional[Path],
        Opt(
            help="Start a new run from this run's (or model folder's) generators: G_l when its settings match, "
            "G_e too when the renderer does; discriminators and optimisers start fresh.",
            show_default=False,
        ),
    ] = None,
    landmark_warmup_steps: Annotated[
        Optional[int],
        Opt(
            min=0,
            help="First train G_l alone on the landmark loss (Eq. 4) for N steps of 16 pairs [0].",
            show_default=False,
        ),
    ] = None,
    device: Annotated[str, Opt(help="auto, cpu or cuda.")] = "auto",
    no_identity_loss: Annotated[bool, Opt("--no-identity-loss", help="Ablation: drop Eq. 8.")] = False,
    no_landmark_loss: Annotated[bool, Opt("--no-landmark-loss", help="Ablation: drop Eq. 4.")] = False,
    single_discriminator: Annotated[
        bool, Opt("--single-discriminator", help="Ablation: one PatchGAN per stage.")
    ] = False,
    recon: Annotated[
        Optional[str], Opt(help=escape("Reconstruction loss: l1, l2 or l12 (Eq. 7) [l12]."), show_default=False)
    ] = None,
    labels: Annotated[
        Optional[str], Opt(help=escape("Expression label to: gl, ge or both [both]."), show_default=False)
    ] = None,
    renderer: Annotated[
        Optional[str],
        Opt(
            help=escape(
                "Stage II: 'warp' (moves the photo's pixels, synthesises what is new) "
                "or 'unet' (the paper's G_e) [warp]."
            ),
            show_default=False,
        ),
    ] = None,
    no_synthesis: Annotated[
        bool, Opt("--no-synthesis", help="Warp renderer without its synthesis mask: the learned flow alone.")
    ] = False,
    identity_pairs: Annotated[
        bool,
        Opt(
            "--identity-pairs",
            help="Also train on (photo, photo) pairs with the photo's own label, "
            "so an edit that asks for no change makes none.",
        ),
    ] = False,
    no_soft_crops: Annotated[bool, Opt("--no-soft-crops", help="Ablation: black landmark dots.")] = False,
    augment: Annotated[
        Optional[bool],
        Opt("--augment/--no-augment", help="Flips, colour and small geometric jitter.", show_default=False),
    ] = None,
    sample_every: Annotated[Optional[int], Opt(min=0, help="Steps between sample grids.", show_default=False)] = None,
    checkpoint_every: Annotated[
        Optional[int], Opt(min=0, help="Steps between checkpoints.", show_default=False)
    ] = None,
) -> None:
    """Train LandmarkGAN (both stages end to end) with the paper's losses and defaults.

    Writes runs/NNNNN-<name>/: config.json (the resolved settings), stats.jsonl (losses,
    validation metrics), samples/ (input | generated landmarks | output | target),
    model.safetensors (the generators, for `lgan edit` / `lgan eval`) and training_state.pt
    (for --resume). Ctrl-C saves a checkpoint and exits cleanly.
    """
    from lgan_cli.train import setup
    from lgan_cli.train.distributed import init_distributed, shutdown

    dist_info = init_distributed(device)
    if resume is not None:
        run_config = setup.resumed_run_config(resume, epochs, lr_decay_epochs)
    else:
        overrides = {
            "dataset": dataset,
            "data_root": data_root,
            "prepared": prepared,
            "test_ids": test_ids,
            "pairs": pairs,
            "resolution": resolution,
            "width": width,
            "disc_width": disc_width,
            "labels": labels,
            "renderer": renderer,
            "recon": recon,
            "epochs": epochs,
            "batch_size": batch_size,
            "max_steps": max_steps,
            "lr_decay_epochs": lr_decay_epochs,
            "seed": seed,
            "sample_every": sample_every,
            "checkpoint_every": checkpoint_every,
            "landmark_warmup_steps": landmark_warmup_steps,
            "init_from": init_from,
            "device": device,
            "augment": augment,
            "name": name,
            "no_synthesis": no_synthesis,
            "identity_pairs": identity_pairs,
            "no_soft_crops": no_soft_crops,
            "single_discriminator": single_discriminator,
            "no_identity_loss": no_identity_loss,
            "no_landmark_loss": no_landmark_loss,
        }
        run_config = setup.new_run_config(config, overrides)
    torch_device = setup.pick_device(device, dist_info.local_rank)

    data_root_text = run_config.data.data_root
    if not run_config.data.dataset:
        raise LganError("--dataset is required (or a --config that names one)")
    prepared_data = setup.prepared_for_run(run_config, dist_info)
    if resume is None:
        run_config = setup.with_dataset_labels(run_config, prepared_data)
    run = setup.open_run(run_config, resume, prepared_data, torch_device, dist_info, out)
    _fit(run, run_config, torch_device, dist_info, data_root_text)
    shutdown(dist_info)


def _fit(run, run_config, device, dist_info, data_root_text: str) -> None:
    """Train with a progress bar (plain lines in a log file), then say what to do next."""
    trainer, run_dir, data_cfg = run.trainer, run.run_dir, run_config.data
    if dist_info.is_main:
        console.print(
            f"{'resuming' if run.resumed else 'training'} {run_dir} on {device}: {len(trainer.data)} pairs, "
            f"{trainer.steps_per_epoch} steps/epoch, {trainer.total_steps} steps"
            + (
                f" after {run_config.train.landmark_warmup_steps} G_l warm-up steps"
                if run_config.train.landmark_warmup_steps
                else ""
            )
            + (f", from step {trainer.step}" if run.resumed else "")
        )
        if run.note:
            console.print(f"note: {run.note}")
    columns = (
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("ep {task.fields[epoch]}"),
        TextColumn("{task.fields[losses]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not dist_info.is_main) as progress:
        warmup_steps = run_config.train.landmark_warmup_steps
        warmup = (
            progress.add_task("warm-up", total=warmup_steps, completed=trainer.warmup_step, epoch="-", losses="")
            if warmup_steps
            else None
        )
        task = progress.add_task(
            "train", total=trainer.total_steps, completed=trainer.step, epoch=trainer.epoch, losses=""
        )

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
