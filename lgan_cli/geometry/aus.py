"""Action units as the user-facing vocabulary of expression geometry.

An expression edit is written as a mix of FACS action units {AU: weight in 0..1}; the eight
RaFD expressions are just named presets of such mixes (the EMFACS recipes of
`lgan_cli.synth.recipes`, scaled to an intensity level). Everything downstream turns a mix
into ICT blendshape weights with `blendshape_weights_for`, so a preset and a hand-written
mix go through the same code and combine by adding.

AU keys: an int for a bilateral AU (12 = both lip corners), "R12"/"L12" for one side (the
subject's right is ICT's `_R`), and "4i", the recipes' inner-brow lowerer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from lgan_cli.data.records import RAFD_EXPRESSIONS
from lgan_cli.synth.recipes import AU_BLENDSHAPES, INTENSITY_SCALE, RECIPES, au_blendshapes

AuKey = int | str
AuMix = dict[AuKey, float]

#: Intensity levels accepted by `expression_au_weights`: 0 (no expression) plus the recipes' 1..4.
LEVELS: tuple[int, ...] = (0, *INTENSITY_SCALE)

_TOKEN = re.compile(r"^(?:au)?([lr])?(\d+)(i?)$", re.IGNORECASE)


def known_aus() -> str:
    """The accepted AU keys, for error messages: '1, 2, 4, 4i, ... (prefix L/R for one side)'."""
    numbers = sorted(key for key in AU_BLENDSHAPES if isinstance(key, int))
    extra = sorted(key for key in AU_BLENDSHAPES if isinstance(key, str))
    return ", ".join([str(n) for n in numbers] + extra) + " (prefix L or R for one side, e.g. R12)"


def normalise_au(key: AuKey) -> AuKey:
    """One AU key in canonical form (int, 'R12', 'L12' or '4i'), or ValueError naming the known AUs.

    Accepts ints, digit strings ('12'), an optional 'AU' prefix and lower-case sides ('r12').
    """
    if isinstance(key, bool):  # bool is an int subclass; True is not AU 1
        raise ValueError(f"unknown action unit {key!r}; known: {known_aus()}")
    if isinstance(key, int):
        if key in AU_BLENDSHAPES:
            return key
        raise ValueError(f"unknown action unit {key}; known: {known_aus()}")
    match = _TOKEN.match(str(key).strip())
    if not match:
        raise ValueError(f"malformed action unit {key!r}: write a number such as 12, or R12 / L12 for one side")
    side, number, inner = match.group(1), int(match.group(2)), match.group(3)
    if inner:
        canonical: AuKey = f"{number}i"
        if side or canonical not in AU_BLENDSHAPES:
            raise ValueError(f"unknown action unit {key!r}; known: {known_aus()}")
        return canonical
    if number not in AU_BLENDSHAPES:
        raise ValueError(f"unknown action unit {key!r}; known: {known_aus()}")
    if not side:
        return number
    if not any(name.endswith(("_L", "_R")) for name in AU_BLENDSHAPES[number]):
        raise ValueError(f"action unit {number} has no left/right shapes, so {key!r} has no meaning; write {number}")
    return f"{side.upper()}{number}"


def _check_weight(key: object, weight: object) -> float:
    try:
        value = float(weight)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"weight of AU {key} must be a number in 0..1, got {weight!r}") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"weight of AU {key} must be in 0..1, got {weight!r}")
    return value


def validate_au_mix(aus: Mapping[AuKey, float]) -> AuMix:
    """A mix with canonical keys and checked weights; two keys naming the same AU are an error."""
    out: AuMix = {}
    for key, weight in aus.items():
        canonical = normalise_au(key)
        if canonical in out:
            raise ValueError(f"action unit {canonical} is given twice")
        out[canonical] = _check_weight(canonical, weight)
    return out


def parse_au_spec(text: str) -> AuMix:
    """'12=0.8,6=0.5' -> {12: 0.8, 6: 0.5}; 'R12=0.4' for one side; '' -> {} (no change).

    Items are separated by commas (spaces around items and '=' are ignored). Each error names
    the offending item, so a CLI can print it as is.
    """
    if not isinstance(text, str):
        raise ValueError(f"an AU spec is text such as '12=0.8,6=0.5', got {type(text).__name__}")
    if not text.strip():
        return {}
    out: AuMix = {}
    for item in text.split(","):
        if not item.strip():
            raise ValueError(f"malformed AU spec {text!r}: empty item (write e.g. '12=0.8,6=0.5')")
        key, sep, weight = item.partition("=")
        if not sep or not key.strip() or not weight.strip():
            raise ValueError(f"malformed AU item {item.strip()!r}: write AU=weight, e.g. 12=0.8")
        canonical = normalise_au(key.strip())
        if canonical in out:
            raise ValueError(f"action unit {canonical} is given twice in {text!r}")
        try:
            value = float(weight)
        except ValueError:
            raise ValueError(f"malformed AU item {item.strip()!r}: the weight must be a number in 0..1") from None
        out[canonical] = _check_weight(canonical, value)
    return out


def expression_au_weights(expression: str, level: int | None = 4) -> AuMix:
    """The named preset of an expression: its EMFACS recipe scaled to intensity `level`.

    Level 0 and 'neutral' give {} (no expression); None means the apex (level 4).
    """
    if expression not in RECIPES:
        raise ValueError(f"unknown expression {expression!r}; known: {', '.join(RAFD_EXPRESSIONS)}")
    if level is None:
        level = max(INTENSITY_SCALE)
    if isinstance(level, bool) or level not in LEVELS:
        raise ValueError(f"intensity level must be one of {', '.join(map(str, LEVELS))}, got {level!r}")
    if level == 0:
        return {}
    scale = INTENSITY_SCALE[level]
    return {au: weight * scale for au, weight in RECIPES[expression].items()}


def blendshape_weights_for(*mixes: Mapping[AuKey, float]) -> dict[str, float]:
    """ICT blendshape weights of one or more AU mixes, added per blendshape and clipped to [0, 1].

    Adding is what makes 'happy at level 2 plus AU 26' mean both at once; two AUs driving the
    same blendshape (26 and 27 both drive jawOpen) add the same way, as in the recipes.
    """
    weights: dict[str, float] = {}
    for mix in mixes:
        for au, weight in validate_au_mix(mix).items():
            for name in au_blendshapes(au):
                weights[name] = min(1.0, weights.get(name, 0.0) + weight)
    return {name: value for name, value in weights.items() if value > 0.0}
