"""Action units as the user-facing vocabulary of expression geometry.

An expression edit is written as a mix of FACS action units {AU: weight in 0..1}; the eight
RaFD expressions are just named presets of such mixes (the EMFACS recipes of
`lgan_cli.synth.recipes`, scaled to an intensity level, made for photos by `PHOTO_RECIPES` and
`PHOTO_GAIN`). Everything downstream turns a mix into ICT blendshape weights with
`blendshape_weights_for`, so a preset and a hand-written mix go through the same code and
combine by adding (`add_blendshapes`).

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

#: The presets on photos. The recipes were set on ICT renders, where every vertex moves (cheeks,
#: nose, lids) and the shading follows; a photo edit moves only what its 68 points carry, so the
#: same weights read weaker there. Each preset is its recipe's blendshapes times PHOTO_GAIN
#: (blendshapes are linear deltas: a weight above ICT's apex extends the same motion), and three
#: recipes are changed for photos:
#:   - disgust takes its closed-mouth EMFACS prototype 9+10+15+17 (nose wrinkled, upper lip raised
#:     hard, lip corners down, chin raised): the recipe's open-mouth one, warped onto photos, was
#:     read as angry on 16 of 16;
#:   - anger drops AU5 (upper lid raiser): on a photo's eye points it fights AU7's lid tightening,
#:     and without it anger is read as angry on 14 of 16 instead of 11 (same identity distance).
#:     It also drops the lower lip's drop and funnel (AU16, AU22) and takes gain 1.25, calibrated on
#:     the edits as delivered (`--model london-all-warp-128`: the 3D model's teeth drawn in the
#:     opening), not on the geometry floor, which draws none: with the lower teeth bared the snarl
#:     was read as happy, surprised or neutral (angry on 4 of 16); with the upper lip raised over
#:     closed jaws, on 12 of 16 (the table below is the floor's, for the other presets);
#:   - fear raises the brows harder (more 1 and 2, less 4, more 20, no 7): read as often
#:     (13 of 16), its judging blendshapes rise on 16 of 16 instead of 14, score 0.05 -> 0.13.
#: Calibrated with the geometry floor on the neutral photos of 16 London *training* people (002 012
#: 019 027 036 041 066 086 097 104 114 122 127 134 139 172; never the held-out ones), face-api's
#: reading at level 4: each gain is the smallest of 1, 1.25, 1.5 read as intended on >= 80 %;
#: disgust never is, and takes the gain that read best when the presets were chosen (1.25, level
#: with 1.5 then). Gains cost identity (median descriptor distance about +0.04 per 0.25).
#: `python scripts/calibrate_photo_presets.py` on those photos (read as intended; median identity
#: distance in brackets):
#:
#:     expression   gain 1         1.25           1.5
#:     angry         19 % (0.54)   56 % (0.59)    88 % (0.62)   (with AU5: 25 %, 56 %, 69 %)
#:     disgusted     44 % (0.61)   50 % (0.62)    56 % (0.65)   (the recipe's prototype: 6 %, 0 %, 0 %)
#:     fearful       25 % (0.47)   81 % (0.51)    88 % (0.53)   (the recipe: 38 %, 81 %, 81 %)
#:     happy         75 % (0.43)   94 % (0.48)    94 % (0.53)
#:     sad           75 % (0.37)   94 % (0.43)   100 % (0.47)
#:     surprised     81 % (0.37)   88 % (0.41)    94 % (0.44)
#:
#: Anger as delivered by london-all-warp-128 (fitted base, run 00019) on the same photos:
#:     the recipe less AU5, gain 1.5           25 % (0.58)
#:     less AU5, 16, 22 (shipped), gain 1       50 % (0.51); 1.25: 75 % (0.57); 1.5: 62 % (0.61)
#:     less AU5 and 16 (keeping 22), gain 1.5    6 % (0.59); less AU5, 10, 11, 16, 22: 6 % (0.41)
#:     the closed-mouth prototype 4+7+17+24     12 % (0.39) at gain 1.25, 19 % (0.42) at 1.5
PHOTO_RECIPES: dict[str, dict[AuKey, float]] = {
    **RECIPES,
    "angry": {au: weight for au, weight in RECIPES["angry"].items() if au not in (5, 16, 22)},
    "disgusted": {9: 0.8, 10: 1.0, 11: 1.0, 15: 0.8, 17: 0.8},
    "fearful": {1: 1.0, 2: 0.4, 4: 0.7, "4i": 0.4, 5: 1.0, 15: 0.8, 16: 0.9, 20: 0.9, 26: 0.4},
}
PHOTO_GAIN: dict[str, float] = {
    "neutral": 1.0,
    "angry": 1.25,
    "contemptuous": 1.0,  # no class to calibrate on; left at the recipe
    "disgusted": 1.25,
    "fearful": 1.25,
    "happy": 1.25,
    "sad": 1.25,
    "surprised": 1.0,
}
#: The largest blendshape weight a preset (or a preset plus an AU mix) may reach.
MAX_BLENDSHAPE_WEIGHT = max(PHOTO_GAIN.values())

if set(PHOTO_RECIPES) != set(RAFD_EXPRESSIONS) or set(PHOTO_GAIN) != set(RAFD_EXPRESSIONS):
    raise AssertionError("PHOTO_RECIPES and PHOTO_GAIN must cover exactly the RaFD expressions")

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
    """The AUs of an expression's preset: its photo recipe scaled to intensity `level`.

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
    return {au: weight * scale for au, weight in PHOTO_RECIPES[expression].items()}


def expression_blendshapes(expression: str, level: int | None = 4) -> dict[str, float]:
    """ICT blendshape weights of an expression's photo preset at `level` (PHOTO_GAIN applied)."""
    weights = blendshape_weights_for(expression_au_weights(expression, level))
    return {name: PHOTO_GAIN[expression] * weight for name, weight in weights.items()}


def add_blendshapes(*weights: Mapping[str, float]) -> dict[str, float]:
    """Blendshape weights added per shape and clipped to [0, MAX_BLENDSHAPE_WEIGHT]."""
    total: dict[str, float] = {}
    for mix in weights:
        for name, weight in mix.items():
            total[name] = min(MAX_BLENDSHAPE_WEIGHT, total.get(name, 0.0) + weight)
    return {name: value for name, value in total.items() if value > 0.0}


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
