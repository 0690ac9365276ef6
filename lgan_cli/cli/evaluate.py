"""`lgan eval`: run a model over a dataset's test pairs and print the paper's metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from lgan_cli.cli.common import (
    DeviceOption,
    PointsOption,
    ShadingOption,
    check_output_path,
    command,
    console,
    results_console,
    with_model_options,
)
from lgan_cli.data.adapters import ADAPTERS
from lgan_cli.data.pairs import spread_evenly
from lgan_cli.data.prepare import PrepareConfig, prepare_if_missing, split_settings
from lgan_cli.data.prepared import PreparedDataset
from lgan_cli.errors import LganError
from lgan_cli.fileio import atomic_write_text


@command(
    name="eval",
    epilog=(
        "Examples:\n\n"
        "  lgan eval --model copy --dataset london --data-root ../shared/datasets/london --split test\n\n"
        "  lgan eval --model runs/00003-london --dataset london --data-root ../shared/datasets/london "
        "--json eval.json\n\n"
        "  lgan eval --model runs/00004-ict-synth --dataset ict-synth --prepared prepared/ict-synth-128 "
        "--pairs neutral\n\n"
        "  lgan eval --photos examples --expr happy --sheet happy-sheet.png --json happy-photos.json"
    ),
)
def eval_command(
    model: Annotated[
        Optional[str],
        typer.Option(
            help=escape("Model: 'copy' (baseline), a registry name, a run folder or a checkpoint [the default model]."),
            show_default=False,
        ),
    ] = None,
    dataset: Annotated[
        Optional[str], typer.Option(help=f"Dataset format: {', '.join(sorted(ADAPTERS))}.", show_default=False)
    ] = None,
    photos: Annotated[
        Optional[list[Path]],
        typer.Option(
            help="Evaluate full-resolution edits of these photos or folders of photos instead "
            "(repeatable; needs --expr).",
            show_default=False,
        ),
    ] = None,
    expr: Annotated[
        Optional[str],
        typer.Option(
            "--expr",
            help="With --photos: the target expression; several as 'sad,angry', or 'all' "
            "(every one the model knows but neutral).",
            show_default=False,
        ),
    ] = None,
    intensity: Annotated[
        Optional[str],
        typer.Option(
            "--intensity",
            help=escape("Level 1..4 (4 = full) or a fraction in [0, 1]; with --photos several as '1,2,3,4' [full]."),
            show_default=False,
        ),
    ] = None,
    geometry: Annotated[
        bool,
        typer.Option(
            "--geometry",
            help="With --photos: also score the geometry-only baseline (the 3D model's expression moved by "
            "the same warp, nothing learned) and the model with the fitted 3D model's points in place of G_l's.",
        ),
    ] = False,
    sheet: Annotated[
        Optional[Path],
        typer.Option(
            help="With --photos: write a contact sheet of zoomed before/after faces (PNG).", show_default=False
        ),
    ] = None,
    data_root: Annotated[
        Optional[Path], typer.Option(help="Folder holding the dataset (needed only to prepare it).", show_default=False)
    ] = None,
    prepared: Annotated[
        Optional[Path],
        typer.Option(help="Prepared-data folder (default: prepared/<dataset>-<resolution>).", show_default=False),
    ] = None,
    split: Annotated[str, typer.Option(help="Which identity split to evaluate on.")] = "test",
    resolution: Annotated[int, typer.Option(min=64, max=512, help="Crop size when the model does not fix one.")] = 128,
    json_path: Annotated[
        Optional[Path],
        typer.Option("--json", help="Also write all results (and per-pair scores) as JSON.", show_default=False),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Pairs per forward pass.")] = 8,
    device: DeviceOption = "auto",
    points: PointsOption = None,
    shading: ShadingOption = None,
    limit: Annotated[
        Optional[int],
        typer.Option(min=1, help="Evaluate only N pairs, spread evenly over the split.", show_default=False),
    ] = None,
    pairs: Annotated[
        str, typer.Option(help="Which pairs: 'all' ordered pairs of a person, or 'neutral' (only to and from neutral).")
    ] = "all",
    baseline: Annotated[
        bool, typer.Option("--baseline/--no-baseline", help="Also score the copy-the-input baseline.")
    ] = True,
    ceiling: Annotated[
        bool,
        typer.Option(
            "--ceiling", help="Also score the real target photos (expression accuracy and smile of genuine photos)."
        ),
    ] = False,
    fid: Annotated[
        bool, typer.Option("--fid", help="Also compute FID (needs scripts/fetch_fid_inception.py once).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --json file.")] = False,
) -> None:
    """Score a model on every (source, target) pair of held-out people: PSNR, SSIM, LPIPS,
    landmark distance, identity similarity and verification, expression accuracy. With
    --photos, score full-resolution edits of real photos instead: face kept (flow-compensated
    SSIM), expression scores, identity, untouched background.
    """
    # torch and the judging networks load here, not at start-up, so other commands stay quick
    from lgan_cli.device import resolve_device
    from lgan_cli.eval.runner import evaluate
    from lgan_cli.models.load import load_editor

    if json_path is not None:
        check_output_path(json_path, [], force)
    if photos:
        if expr is None:
            raise LganError("--photos needs --expr (the target expression)")
        _evaluate_photos(model, photos, expr, intensity, geometry, device, points, shading, json_path, sheet, force)
        return
    if dataset is None:
        raise LganError("give --dataset (a prepared dataset's pairs) or --photos (real photos)")
    if model is None:
        raise LganError("--model is needed with --dataset ('copy', a registry name, a run folder or a checkpoint)")
    torch_device = resolve_device(device)
    editor = with_model_options(load_editor(model, torch_device), None, points, shading)
    size = editor.resolution or resolution
    prepared_dir = prepared or Path("prepared") / f"{dataset}-{size}"
    trained_on = ((getattr(editor, "settings", None) or {}).get("run") or {}).get("data") or {}
    model_split = split_settings(trained_on) if trained_on.get("dataset") == dataset else {}  # its held-out people
    prepare_if_missing(
        prepared_dir,
        PrepareConfig(dataset=dataset, data_root=str(data_root or ""), resolution=size, **model_split),
        on_prepare=lambda: console.print(f"preparing {dataset} at {size} px into {prepared_dir} (done once)"),
    )
    data = PreparedDataset.load(prepared_dir, resolution=size if editor.resolution else None)
    pair_count = len(spread_evenly(data.pairs(split, pairs), limit))

    columns = (
        TextColumn("[bold]eval[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("eval", total=pair_count)
        report = evaluate(
            editor,
            data,
            split,
            device=torch_device,
            batch_size=batch_size,
            baseline=baseline,
            limit=limit,
            pair_mode=pairs,
            on_progress=lambda n: progress.update(task, advance=n),
            fid=fid,
            ceiling=ceiling,
        )
    print_report(report)
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(report.to_json(), indent=1) + "\n")
        console.print(f"wrote {json_path}")


def print_report(report) -> None:
    """The Rich table: one row per (target expression, method), then the overall rows."""
    from lgan_cli.eval.metric_table import METRICS

    table = Table(
        title=(
            f"{report.model} on {Path(report.dataset).name} "
            f"({report.split} split, {report.pairs} pairs, {report.resolution} px)"
        ),
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
    for metric in METRICS:
        table.add_column(metric.title, justify="right", no_wrap=True)
    groups = [(expression, {"target_expression": expression}) for expression in report.expressions]
    groups += [(f"intensity {level}", {"target_intensity": level}) for level in report.intensities]
    for label, selection in [*groups, ("overall", {})]:
        for name, result in report.methods.items():
            summary = result.summary(**selection)
            cells = [metric.show(summary[metric.key]) for metric in METRICS]
            table.add_row(label, name, str(summary["pairs"]), *cells, end_section=name == list(report.methods)[-1])
    output = results_console()
    output.print(table)
    for name, result in report.methods.items():
        if result.fid is not None:
            output.print(f"FID {name}: {result.fid:.2f} ({report.pairs} outputs vs the real targets)")
    for note in report.notes:
        output.print(f"note: {note}")


def find_photos(paths: list[Path]) -> list[Path]:
    """The photos named, and the photos directly inside the folders named, in a stable order."""
    from lgan_cli.faces.decode import IMAGE_SUFFIXES

    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.iterdir()
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
            )
        elif path.is_file():
            found.append(path)
        else:
            raise LganError(f"{path}: no such photo or folder")
    if not found:
        raise LganError(f"no photos in {', '.join(str(p) for p in paths)}")
    return found


def _evaluate_photos(
    model, paths, expr, intensity, geometry, device, points, shading, json_path, sheet_path, force
) -> None:
    from lgan_cli.device import resolve_device
    from lgan_cli.editing import check_expressions, parse_intensity
    from lgan_cli.eval.photos import contact_sheet, evaluate_photos
    from lgan_cli.faces.decode import save_image
    from lgan_cli.models.editor import LandmarkGANEditor
    from lgan_cli.models.geometry_editor import GeometryEditor
    from lgan_cli.models.load import load_editor

    if sheet_path is not None:
        check_output_path(sheet_path, [], force)
    photos = find_photos(paths)
    levels = [parse_intensity(text) for text in (intensity.split(",") if intensity else [None])]
    torch_device = resolve_device(device)
    loaded = load_editor(model, torch_device)
    editor = with_model_options(loaded, None, points, shading)
    expressions = _requested_expressions(expr, editor)
    check_expressions(editor, expressions)
    requests = [(expression, level) for expression in expressions for level in levels]
    editors = [editor]
    if isinstance(editor, LandmarkGANEditor):  # the comparison rows share the model's points (--points)
        same = {"target_points": editor.target_points, "shading": editor.shading}
        if len(requests) == 1:  # what stage II's learning adds over G_l's points
            editors.append(LandmarkGANEditor(editor.model, loaded.name, prior_only=True, **same))
        if editor.mouth_interior == "face-model":  # the 3D mouth vs G_e's
            editors.append(LandmarkGANEditor(editor.model, loaded.name, mouth_interior="learned", **same))
        if editor.shading == "face-model":  # the moved pixels as they are
            unshaded = {**same, "shading": "none"}
            editors.append(LandmarkGANEditor(editor.model, loaded.name, **unshaded))
        if editor.target_points == "anchored":  # G_l's points as generated
            generated = {**same, "target_points": "generated"}
            editors.append(LandmarkGANEditor(editor.model, loaded.name, **generated))
        if geometry:  # stage I's alternative: the fitted 3D model's points
            editors.append(LandmarkGANEditor(editor.model, loaded.name, fitted_points=True))
    if geometry and not isinstance(editor, GeometryEditor):
        editors.append(GeometryEditor())
    rows: list = []
    columns = (
        TextColumn("[bold]photos[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("photos", total=len(photos) * len(requests))
        reports = evaluate_photos(
            editors, photos, requests, torch_device, on_progress=lambda: progress.update(task, advance=1), sheet=rows
        )
    if len(reports) == 1:
        print_photo_report(reports[0])
    else:
        print_photo_summary(reports)
    if json_path is not None:
        document = reports[0].to_json() if len(reports) == 1 else {"reports": [r.to_json() for r in reports]}
        atomic_write_text(json_path, json.dumps(document, indent=1) + "\n")
        console.print(f"wrote {json_path}")
    if sheet_path is not None:
        labels = ["input", *[f"{e.name} {x} {'' if n is None else n}".strip() for x, n in requests for e in editors]]
        save_image(contact_sheet(rows, labels), sheet_path)
        console.print(f"wrote {sheet_path}")


def _requested_expressions(expr: str, editor) -> list[str]:
    """--expr: one name, a comma list, or 'all' (the model's expressions but neutral)."""
    if expr.strip() == "all":
        from lgan_cli.data.records import RAFD_EXPRESSIONS

        known = editor.expressions or RAFD_EXPRESSIONS
        return [name for name in known if name != "neutral"]
    names = [name.strip() for name in expr.split(",") if name.strip()]
    if not names:
        raise LganError("--expr names no expression")
    return names


def print_photo_summary(reports) -> None:
    """One row per (expression, intensity, method): the medians a user reads first."""
    table = Table(
        title=f"edits of {len(next(iter(reports[0].methods.values())))} photos at full resolution (medians)",
        caption=(
            "kept: flow-compensated SSIM over the face minus the mouth; score: the expression's judging blendshapes, "
            "input -> output; rises: share of photos whose score rises; read: face-api reads the intended class "
            "(input's rate in brackets); mouth: inner-lip brightness / lips (open mouths; < 1 a dark cavity); "
            "detail: fine detail inside the inner lips / on the lips (< 1: smooth); "
            "stretch: the warp's largest magnification of the face outside the mouth (median, max)"
        ),
    )
    for name, justify in (
        ("expression", "left"),
        ("level", "right"),
        ("method", "left"),
        ("kept ↑", "right"),
        ("score", "right"),
        ("rises", "right"),
        ("read", "right"),
        ("ID dist ↓ (max)", "right"),
        ("mouth", "right"),
        ("detail", "right"),
        ("stretch (max)", "right"),
        ("far px", "right"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)
    number = lambda value, digits=3: "-" if value is None else f"{value:.{digits}f}"  # noqa: E731
    percent = lambda value: "-" if value is None else f"{100 * value:.0f}%"  # noqa: E731
    for report in reports:
        methods = list(report.methods)
        for name in methods:
            m = report.summary(name)
            table.add_row(
                report.expression,
                "full" if report.intensity is None else str(report.intensity),
                name,
                f"{number(m['kept'])}",
                f"{number(m['input_expression_score'], 2)} -> {number(m['expression_score'], 2)}",
                percent(m["score_rises"]),
                f"{percent(m['expression_correct'])} ({percent(m['input_correct'])})",
                f"{number(m['identity_distance'])} ({number(m['max_identity_distance'])})",
                number(m["mouth_interior"], 2),
                number(m["mouth_detail"], 2),
                f"{number(m['magnification'], 1)} ({number(m['max_magnification'], 1)})",
                str(m["total_changed_far"]),
                end_section=name == methods[-1],
            )
    results_console().print(table)


def print_photo_report(report) -> None:
    """One row per (photo, method), then the medians per method."""
    from lgan_cli.eval.photos import EXPRESSION_BLENDSHAPES

    judged = EXPRESSION_BLENDSHAPES.get(report.expression)
    table = Table(
        title=f"{report.expression} edits of {len(next(iter(report.methods.values())))} photos at full resolution",
        caption=(
            "kept: SSIM of input and output over the face minus the mouth, "
            "after DIS optical flow moves the output back; "
            f"score: mean of {', '.join(judged) if judged else 'no blendshapes (neutral)'} (input -> output); "
            "read: face-api's class of the output; ID dist: descriptor distance to the input (< 0.6 same person); "
            "far px: pixels changed beyond the face and a margin"
        ),
    )
    for name, justify in (
        ("photo", "left"),
        ("method", "left"),
        ("kept ↑", "right"),
        ("score", "right"),
        ("smile", "right"),
        ("read", "left"),
        ("ID dist ↓", "right"),
        ("far px", "right"),
        ("size+format", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)
    number = lambda value, digits=3: "-" if value is None else f"{value:.{digits}f}"  # noqa: E731
    methods = list(report.methods)
    for index in range(len(report.methods[methods[0]])):
        for name in methods:
            s = report.methods[name][index]
            table.add_row(
                Path(s.photo).name,
                name,
                number(s.kept),
                f"{number(s.input_expression_score, 2)} -> {number(s.expression_score, 2)}",
                f"{number(s.input_smile, 2)} -> {number(s.smile, 2)}",
                s.expression_predicted or "no face",
                number(s.identity_distance),
                str(s.changed_far),
                "ok" if s.same_size and s.same_format else "DIFFERS",
                end_section=name == methods[-1],
            )
    for name in methods:
        m = report.summary(name)
        read = "-" if m["expression_correct"] is None else f"{100 * m['expression_correct']:.0f}% right"
        table.add_row(
            "median",
            name,
            f"{number(m['kept'])} (min {number(m['min_kept'])})",
            f"{number(m['input_expression_score'], 2)} -> {number(m['expression_score'], 2)}",
            f"{number(m['input_smile'], 2)} -> {number(m['smile'], 2)}",
            read,
            f"{number(m['identity_distance'])} (max {number(m['max_identity_distance'])})",
            str(m["total_changed_far"]),
            "ok" if m["same_size_and_format"] else "DIFFERS",
        )
    results_console().print(table)
