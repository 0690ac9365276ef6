"""`lgan prepare`: detect, align and crop a dataset once, into a cache the trainer reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from lgan_cli.cli.common import command, console
from lgan_cli.data.adapters import ADAPTERS
from lgan_cli.data.prepare import PrepareConfig, PrepareReport, prepare_dataset
from lgan_cli.data.splits import parse_id_list

SHOW_SKIPPED = 20


@command(
    epilog=(
        "Examples:\n\n"
        "  lgan prepare --dataset london --data-root ../shared/datasets/london --out prepared/london-128\n\n"
        "  lgan prepare --dataset rafd --data-root ~/data/RaFD --out prepared/rafd-256 --resolution 256\n\n"
        "  lgan prepare --dataset folder --data-root my_faces/labels.csv --out prepared/mine --test-ids 'anna,bo'"
    )
)
def prepare(
    dataset: Annotated[str, typer.Option(help=f"Dataset format: {', '.join(sorted(ADAPTERS))}.", show_default=False)],
    data_root: Annotated[
        Path, typer.Option(help="Folder holding the dataset (for 'folder': its CSV).", show_default=False)
    ],
    out: Annotated[Path, typer.Option(help="Folder for the prepared crops and index.json.", show_default=False)],
    resolution: Annotated[int, typer.Option(min=64, max=512, help="Crop size S in pixels (S x S).")] = 128,
    zoom: Annotated[
        float, typer.Option(min=0.5, max=2.0, help="Crop tightness: >1 tighter around the face, <1 looser.")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the identity split.")] = 0,
    test_fraction: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Share of identities held out for testing.")
    ] = 0.2,
    val_fraction: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Share of identities held out for validation.")
    ] = 0.0,
    test_ids: Annotated[
        Optional[str],
        typer.Option(help="Fixed test identities: 'id1,id2,...' or a file with one id per line.", show_default=False),
    ] = None,
    allow_outside_root: Annotated[
        bool, typer.Option("--allow-outside-root", help="Let a 'folder' CSV name photos outside its own folder.")
    ] = False,
) -> None:
    """Detect, align and crop every photo of a dataset; cache crops + 68 points + labels + split.

    Resumable and idempotent: run it again after an interruption and it continues; run it on a
    finished folder and it reuses everything. Photos with no face, several faces or unreadable
    data are skipped and reported, never fatal.
    """
    config = PrepareConfig(
        dataset=dataset,
        data_root=str(data_root),
        resolution=resolution,
        zoom=zoom,
        seed=seed,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        test_ids=tuple(parse_id_list(test_ids)) if test_ids else None,
        allow_outside_root=allow_outside_root,
    )
    columns = (
        TextColumn("[bold]prepare[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("prepare", total=None, status="")

        def on_start(total: int) -> None:
            progress.update(task, total=total)

        def on_progress(record, status: str) -> None:
            progress.update(task, advance=1, status=f"{status} {record.path.name}")

        report = prepare_dataset(config, out, on_progress=on_progress, on_start=on_start)
    _print_report(report, out)


def _print_report(report: PrepareReport, out: Path) -> None:
    table = Table(title=f"prepared into {out}", show_header=True)
    for column in ("photos", "prepared now", "reused", "skipped", "seconds"):
        table.add_column(column, justify="right")
    table.add_row(
        str(report.total), str(report.prepared), str(report.reused), str(len(report.skipped)), f"{report.seconds:.1f}"
    )
    console.print(table)
    if report.skipped:
        skipped = Table("skipped photo", "reason", title=f"skipped (all listed in {out / 'skipped.csv'})")
        for entry in report.skipped[:SHOW_SKIPPED]:
            skipped.add_row(Path(entry["source"]).name, entry["reason"])
        if len(report.skipped) > SHOW_SKIPPED:
            skipped.add_row(f"... and {len(report.skipped) - SHOW_SKIPPED} more", "")
        console.print(skipped)
