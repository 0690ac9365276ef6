"""`lgan eval`: run a model over a dataset's test pairs and print the paper's metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from lgan_cli.cli.app import app
from lgan_cli.cli.common import DeviceOption, check_output_path, console, results_console
from lgan_cli.data.adapters import ADAPTERS
from lgan_cli.data.pairs import spread_evenly
from lgan_cli.data.prepare import INDEX_NAME, PrepareConfig, prepare_dataset
from lgan_cli.data.prepared import PreparedDataset
from lgan_cli.errors import LganError
from lgan_cli.fileio import atomic_write_text


@app.command(
    name="eval",
    epilog=(
        "Examples:\n\n"
        "  lgan eval --model copy --dataset london --data-root ../shared/datasets/london --split test\n\n"
        "  lgan eval --model runs/00003-london --dataset london --data-root ../shared/datasets/london --json eval.json\n\n"
        "  lgan eval --model runs/00004-ict-synth --dataset ict-synth --prepared prepared/ict-synth-128 --pairs neutral"
    ),
)
def eval_command(
    model: Annotated[str, typer.Option(help="Model: 'copy' (baseline), a run folder or a checkpoint.", show_default=False)],
    dataset: Annotated[str, typer.Option(help=f"Dataset format: {', '.join(sorted(ADAPTERS))}.", show_default=False)],
    data_root: Annotated[Optional[Path], typer.Option(help="Folder holding the dataset (needed only to prepare it).", show_default=False)] = None,
    prepared: Annotated[
        Optional[Path], typer.Option(help="Prepared-data folder (default: prepared/<dataset>-<resolution>).", show_default=False)
    ] = None,
    split: Annotated[str, typer.Option(help="Which identity split to evaluate on.")] = "test",
    resolution: Annotated[int, typer.Option(min=64, max=512, help="Crop size when the model does not fix one.")] = 128,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Also write all results (and per-pair scores) as JSON.", show_default=False)] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Pairs per forward pass.")] = 8,
    device: DeviceOption = "auto",
    limit: Annotated[Optional[int], typer.Option(min=1, help="Evaluate only N pairs, spread evenly over the split.", show_default=False)] = None,
    pairs: Annotated[str, typer.Option(help="Which pairs: 'all' ordered pairs of a person, or 'neutral' (only to and from neutral).")] = "all",
    baseline: Annotated[bool, typer.Option("--baseline/--no-baseline", help="Also score the copy-the-input baseline.")] = True,
    ceiling: Annotated[bool, typer.Option("--ceiling", help="Also score the real target photos (expression accuracy and smile of genuine photos).")] = False,
    fid: Annotated[bool, typer.Option("--fid", help="Also compute FID (needs scripts/fetch_fid_inception.py once).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --json file.")] = False,
) -> None:
    """Score a model on every (source, target) pair of held-out people: PSNR, SSIM, LPIPS,
    landmark distance, identity similarity and verification, expression accuracy.
    """
    # torch and the judging networks load here, not at start-up, so other commands stay quick
    from lgan_cli.device import resolve_device
    from lgan_cli.eval.runner import evaluate
    from lgan_cli.models.load import load_editor

    if json_path is not None:
        check_output_path(json_path, [], force)
    torch_device = resolve_device(device)
    editor = load_editor(model, torch_device)
    size = editor.resolution or resolution
    prepared_dir = prepared or Path("prepared") / f"{dataset}-{size}"
    if not (prepared_dir / INDEX_NAME).exists():
        if data_root is None:
            raise LganError(f"{prepared_dir} holds no prepared data; give --data-root to prepare {dataset} from")
        console.print(f"preparing {dataset} at {size} px into {prepared_dir} (done once)")
        prepare_dataset(PrepareConfig(dataset=dataset, data_root=str(data_root), resolution=size), prepared_dir)
    data = PreparedDataset.load(prepared_dir, resolution=size if editor.resolution else None)
    pair_count = len(spread_evenly(data.pairs(split, pairs), limit))

    columns = (TextColumn("[bold]eval[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("eval", total=pair_count)
        report = evaluate(
            editor, data, split, device=torch_device, batch_size=batch_size, baseline=baseline, limit=limit, pair_mode=pairs,
            on_progress=lambda n: progress.update(task, advance=n), fid=fid, ceiling=ceiling,
        )
    print_report(report)
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(report.to_json(), indent=1) + "\n")
        console.print(f"wrote {json_path}")


def _format(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    if key in ("verified", "expression_correct", "face_found"):
        return f"{100 * value:.1f}%"
    if key == "psnr":
        return f"{value:.2f}"
    if key in ("landmark_distance", "generated_landmark_distance"):
        return f"{value:.2f}"
    return f"{value:.4f}" if key in ("ssim", "lpips", "identity_cosine") else f"{value:.3f}"


def print_report(report) -> None:
    """The Rich table: one row per (target expression, method), then the overall rows."""
    from lgan_cli.eval.runner import METRICS

    table = Table(
        title=f"{report.model} on {Path(report.dataset).name} ({report.split} split, {report.pairs} pairs, {report.resolution} px)",
        caption=(
            f"LM dist: mean landmark distance, px at 256 px, over outputs with a face found; "
            f"G_l dist: the model's generated target points vs the real target's, px at 256 px; "
            f"verif.: identity descriptor distance < 0.6; "
            f"{report.seconds / max(report.pairs, 1):.3f} s per pair"
        ),
    )
    table.add_column("target", no_wrap=True)
    table.add_column("method", no_wrap=True)
    table.add_column("pairs", justify="right")
    for _, label, better in METRICS:
        arrow = {"higher": " ↑", "lower": " ↓"}.get(better, "")
        table.add_column(f"{label}{arrow}", justify="right", no_wrap=True)
    groups = [(expression, {"target_expression": expression}) for expression in report.expressions]
    groups += [(f"intensity {level}", {"target_intensity": level}) for level in report.intensities]
    for label, selection in [*groups, ("overall", {})]:
        for name, result in report.methods.items():
            summary = result.summary(**selection)
            cells = [_format(key, summary[key]) for key, _, _ in METRICS]
            table.add_row(label, name, str(summary["pairs"]), *cells, end_section=name == list(report.methods)[-1])
    output = results_console()
    output.print(table)
    for name, result in report.methods.items():
        if result.fid is not None:
            output.print(f"FID {name}: {result.fid:.2f} ({report.pairs} outputs vs the real targets)")
    for note in report.notes:
        output.print(f"note: {note}")
