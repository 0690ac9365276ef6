"""Names that end up in file names: one alphabet, checked where a name enters.

Expression names become parts of output file names (`photo_happy.jpg`, `out/a/x_happy.jpg`)
and come from the command line, a dataset CSV or a downloaded model's config.json. Letters,
digits, '_' and '-' only (no '/', no '..', no control characters), so no name can make a
command write outside the folder it was given.
"""

from __future__ import annotations

import re

from lgan_cli.errors import LganError

MAX_NAME = 32
SAFE_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_-]{{0,{MAX_NAME - 1}}}")
SAFE_NAME_RULE = f"letters, digits, '_' and '-' only, at most {MAX_NAME}, starting with a letter or digit"


def shown(value: object, limit: int = 40) -> str:
    """A hostile value quoted on one short line (repr escapes control characters)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def is_safe_name(value: object) -> bool:
    return isinstance(value, str) and SAFE_NAME.fullmatch(value) is not None


def check_expression_name(value: object, where: str = "expression") -> str:
    """`value` if it is a usable expression name, else a one-line error saying where it came from."""
    if not is_safe_name(value):
        raise LganError(f"{where}: {shown(value)} is not a usable expression name ({SAFE_NAME_RULE})")
    return value
