"""Checking a JSON settings object against the dataclass it will build, before it is built.

A config.json, a --config recipe or a prepared index can come from anywhere (a Hub repo, a
copied run folder). Dataclass constructors check no types, so `"epochs": "9"`, `null` or a
deeply nested list would surface later as a traceback, or as a tensor of absurd size. The
known fields and their types are read from the dataclass itself (`dataclasses.fields`, its
annotations), so a field added to a dataclass is checked without an edit here.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from lgan_cli.errors import ConfigError
from lgan_cli.names import shown

MAX_TEXT = 4096  # characters in one string setting
MAX_ITEMS = 256  # entries in one list setting


def check_fields(cls: type, data: object, where: str) -> dict:
    """`data` unchanged if it fits `cls`'s fields (names and types), else a one-line ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a JSON object, not {kind_of(data)}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = [key for key in data if key not in known]
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(shown(k) for k in unknown[:4])}"
        )
    for name, value in data.items():
        if not _fits(value, hints[name]):
            raise ConfigError(f"{where}.{name} must be {describe(hints[name])}, not {kind_of(value)}")
    return data


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value can stand for a field of type `hint` (lists stand for tuples)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53
    if hint is float:
        return (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and abs(value) < 1e15
        )
    if hint is str:
        return isinstance(value, str) and len(value) <= MAX_TEXT
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) > MAX_ITEMS:
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_fits(item, args[0]) for item in value)
        return len(value) == len(args) and all(_fits(item, arg) for item, arg in zip(value, args))
    if origin is dict or hint is dict:
        return isinstance(value, dict) and len(value) <= MAX_ITEMS
    if dataclasses.is_dataclass(hint):
        return isinstance(value, dict)  # its own fields are checked where it is built
    return False  # a type this checker does not know: refuse rather than pass it unchecked


def describe(hint: Any) -> str:
    """A type in words, for error messages."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(arg) for arg in args)
    if origin is tuple:
        return f"a list (each {describe(args[0])})" if args else "a list"
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "a string", type(None): "null"}
    return names.get(hint, "an object")


def kind_of(value: Any) -> str:
    """What a JSON value is, in words (never the value itself: it may be huge)."""
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, (int, float)):
        return shown(value, 24)
    if isinstance(value, str):
        return f"the string {shown(value, 24)}" if len(value) <= MAX_TEXT else f"a string of {len(value)} characters"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return {dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


def build(cls: type, data: object, where: str):
    """`cls(**data)` after `check_fields`; lists become tuples; the constructor's own checks
    (ValueError) come back as one line naming `where`."""
    check_fields(cls, data, where)
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
