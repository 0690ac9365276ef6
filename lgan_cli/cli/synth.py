"""`lgan synth`: render a synthetic expression data set from the ICT-FaceKit face model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from lgan_cli.cli.common import command, console


@command(
    epilog=(
        "Examples:\n\n"
        "  lgan synth --out prepared/ict-synth-128 --identities 100\n\n"
        "  lgan synth --out synth-test --identities 4 --resolution 128 --seed 1\n\n"
        "  lgan synth --out prepared/ict-256 --resolution 256 --ict ~/src/ICT-FaceKit/FaceXModel\n\n"
        "  lgan train --dataset ict-synth --prepared prepared/ict-synth-128 --resolution 128"
    )
)
def synth(
    out: Annotated[
        Path, typer.Option(help="Folder for the crops and index.json (the prepared format).", show_default=False)
    ],
    identities: Annotated[int, typer.Option(min=1, max=100000, help="Number of random people (29 images each).")] = 20,
    resolution: Annotated[int, typer.Option(min=64, max=512, help="Crop size S in pixels (S x S).")] = 128,
    seed: Annotated[int, typer.Option(help="Seed of the people, their looks and the identity split.")] = 0,
    ict: Annotated[
        Optional[Path],
        typer.Option(
            help=(
                "ICT-FaceKit model: the packed .npz or a FaceXModel/ folder "
                "[$LGAN_ICT_FACEKIT, else the bundled weights/ict_face_model_light.npz]."
            ),
            show_default=False,
        ),
    ] = None,
    test_fraction: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Share of identities held out for testing.")
    ] = 0.2,
    val_fraction: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Share of identities held out for validation.")
    ] = 0.0,
) -> None:
    """Render synthetic faces: each random person in the 8 RaFD expressions at 4 intensities.

    Per person: identity shape ~ N(0, 1) on ICT-FaceKit's 100 modes, a painted skin, lip, brow,
    hair and eye texture, lighting, backdrop and a small head-pose jitter; expressions are FACS
    action-unit recipes (EMFACS) at 25/50/75/100 %, neutral once. Crops are aligned from the
    model's 68 landmark vertices exactly as `lgan prepare` aligns detected points, and saved in
    its format, so `lgan train --dataset ict-synth --prepared OUT` reads them. Deterministic for
    --seed; an interrupted run resumes when repeated.
    """
    from lgan_cli.synth.dataset import SynthConfig, generate_dataset

    config = SynthConfig(
        data_root=str(ict) if ict is not None else "",
        resolution=resolution,
        seed=seed,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        identities=identities,
    )
    columns = (
        TextColumn("[bold]synth[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("synth", total=None, status="loading the face model")

        def on_start(total: int) -> None:
            progress.update(task, total=total)

        def on_progress(item, status: str) -> None:
            level = f" {item.intensity}" if item.intensity else ""
            progress.update(task, advance=1, status=f"{status} {item.identity} {item.expression}{level}")

        report = generate_dataset(config, out, on_start=on_start, on_progress=on_progress)

    table = Table(title=f"synthetic set in {out}", show_header=True)
    for column in ("identities", "images", "rendered now", "reused", "split (identities)", "seconds", "images/s"):
        table.add_column(column, justify="right")
    splits = ", ".join(f"{name} {count}" for name, count in report.splits.items())
    rate = report.rendered / report.seconds if report.seconds > 0 else 0.0
    table.add_row(
        str(report.identities),
        str(report.total),
        str(report.rendered),
        str(report.reused),
        splits,
        f"{report.seconds:.1f}",
        f"{rate:.1f}",
    )
    console.print(table)
    console.print(f"train with: lgan train --dataset ict-synth --prepared {out} --resolution {resolution}")
