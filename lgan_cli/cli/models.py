"""`lgan models`: list the known models, download one for offline use, push a trained one to the Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from lgan_cli.cli.common import console, results_console

models_app = typer.Typer(
    name="models",
    help=(
        "Known models (bundled, cached or on the Hugging Face Hub), downloads for offline use, and uploads.\n\n"
        "Examples:\n\n"
        "  lgan models list\n\n"
        "  lgan models download london-128\n\n"
        "  lgan models push runs/00003-london --repo-id me/landmarkgan-london"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@models_app.command(
    name="list",
    epilog="Examples:\n\n  lgan models list\n\n  HF_HOME=/data/hf lgan models list",
)
def list_command() -> None:
    """Show every known model: expressions, licence, and where it is (bundled, cached or remote)."""
    from lgan_cli.hub import DEFAULT_MODELS, model_location, registry

    table = Table(
        title="lgan models",
        caption="Default: the first default that knows the requested expressions. "
        "Also usable as --model: a run folder, or hf:owner/repo\\[@revision].",
    )
    for column in ("name", "expressions", "licence", "where", "Hub repo"):
        table.add_column(column, no_wrap=column in ("name", "where"))
    for name, model in sorted(registry().items()):
        label = f"{name} (default {DEFAULT_MODELS.index(name) + 1})" if name in DEFAULT_MODELS else name
        table.add_row(label, ", ".join(model.expressions), model.licence, model_location(model), model.repo_id)
    results_console().print(table)


@models_app.command(
    name="download",
    epilog=(
        "Examples:\n\n"
        "  lgan models download london-128\n\n"
        "  lgan models download hf:owner/repo@v1\n\n"
        "  lgan models download london-128 --offline   # only check that it is available without network"
    ),
)
def download_command(
    name: Annotated[
        str,
        typer.Argument(
            help="A registry name (see `lgan models list`) or hf:owner/repo\\[@revision].", show_default=False
        ),
    ],
    offline: Annotated[
        bool, typer.Option("--offline", help="Never use the network: only check the bundled folder and the cache.")
    ] = False,
) -> None:
    """Fetch a model into the Hugging Face cache, for use with --offline later.

    Only config.json and model.safetensors, into the cache under HF_HOME; sha256-checked when pinned.

    Prints the local folder.
    """
    from lgan_cli.hub import download_model

    folder = download_model(name, offline=offline)
    console.print(f"{name}: ready in {folder}")
    typer.echo(str(folder))


@models_app.command(
    name="push",
    epilog=(
        "Examples:\n\n"
        "  HF_TOKEN=hf_... lgan models push runs/00003-london --repo-id me/landmarkgan-london\n\n"
        "  lgan models push runs/00003-london --repo-id my-org/lgan-test --private"
    ),
)
def push_command(
    run: Annotated[
        Path,
        typer.Argument(help="Run folder or checkpoint folder (config.json + model.safetensors).", show_default=False),
    ],
    repo_id: Annotated[
        str, typer.Option("--repo-id", help="Hub repository, owner/name (created if missing).", show_default=False)
    ],
    private: Annotated[bool, typer.Option("--private", help="Create the repository as private.")] = False,
    token: Annotated[
        Optional[str],
        typer.Option(help="Hub token with write access [HF_TOKEN, or the stored `hf auth login`].", show_default=False),
    ] = None,
) -> None:
    """Upload a trained model to the Hugging Face Hub, with a generated model card.

    One commit of config.json, model.safetensors and README.md, nothing else from the run folder.

    The card gives the training data, its licence and attribution, resolution, expressions, limits and eval.json's metrics.

    Prints the commit URL.
    """  # noqa: E501 - Typer shows the docstring's lines as they are
    from lgan_cli.hub import push_model, shareable_licence

    notice = shareable_licence(run)
    if notice and not private:
        console.print(f"[yellow]warning:[/] {notice}")
    url = push_model(run, repo_id, private=private, token=token)
    console.print(f"pushed {run} to {repo_id}")
    typer.echo(url)
