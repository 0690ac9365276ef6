"""The `lgan` Typer application: the root of the CLI. It lists and registers the commands
(each a function in its own module, marked with `lgan_cli.cli.common.command`) and turns user
errors into one line. No command module imports this one."""

from __future__ import annotations

import sys

import typer

from lgan_cli import __version__
from lgan_cli.cli import animate, batch, edit, evaluate, landmarks, prepare, synth, train
from lgan_cli.cli.models import models_app
from lgan_cli.errors import LganError

app = typer.Typer(
    name="lgan",
    help=(
        "Facial-expression editing with LandmarkGAN (Tang & Sebe): from one photo and a target "
        "expression, generate the person's target landmarks, then their face with that expression.\n\n"
        "Examples:\n\n"
        "  lgan landmarks examples/london_001_neutral.jpg --overlay overlay.png\n\n"
        "  lgan prepare --dataset london --data-root ../shared/datasets/london --out prepared/london-128"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lgan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Facial-expression editing with LandmarkGAN."""


COMMANDS = (
    animate.animate,
    batch.batch,
    edit.edit,
    evaluate.eval_command,
    landmarks.landmarks,
    prepare.prepare,
    synth.synth,
    train.train,
)
for _command in COMMANDS:
    app.command(**_command.command_settings)(_command)
app.add_typer(models_app, name="models")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: user errors print as `error: ...` with exit code 1, no traceback."""
    try:
        app(args=argv, prog_name="lgan")
    except LganError as exc:
        message = " ".join(str(exc).split())  # always one line
        print(f"error: {message}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except OSError as exc:  # the environment refused (disk full, a path vanished): still one line
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {' '.join((exc.strerror or str(exc)).split())}{where}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
