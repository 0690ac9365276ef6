"""Expression recipes: FACS action units per RaFD expression, and AU -> ICT blendshape weights.

Each expression is a prototype from EMFACS (Friesen & Ekman, 1983, "EMFACS-7: Emotional
Facial Action Coding System"; the prototypes as tabulated in Ekman, Friesen & Hager, 2002,
"FACS Investigator's Guide", which RaFD's posed expressions also follow, Langner et al.,
2010), written as {action unit: weight at the apex}. Where EMFACS lists alternatives, the
choice is noted. Weights are blendshape weights in [0, 1]; a weight below 1 is the apex of a
moderate (FACS "C"/"D") rather than an extreme ("E") action, picked by eye on the ICT model
so the full expression looks like a clearly posed photo without mesh artefacts. Anger's and
fear's weights were then tuned within their prototypes' AUs by a black-box search (cross-entropy
method) for face-api's expression classifier (lgan_cli/facenets/expression.py) on 8 synthetic
identities (seeds [300, i]); the others are hand-set.

Check (face-api's classifier on 20 *other* identities, seeds [500, i], 128 px crops, top-1
accuracy; contempt has no class):

    expression   level 1  level 2  level 3  level 4
    angry            5 %     15 %     50 %     70 %
    disgusted        5 %     15 %     45 %     65 %
    fearful         10 %     60 %     85 %     85 %
    happy            0 %     25 %     70 %     75 %
    sad             10 %     45 %     65 %     75 %
    surprised       50 %     75 %     90 %     95 %
    neutral         85 % (no levels)

Low levels mostly read as neutral, as weak expressions do on photos.

The ICT-FaceKit documentation maps AUs to its (ARKit-named) blendshapes; `AU_BLENDSHAPES`
follows it (see ../shared/datasets/ict_facekit/README.md). Bilateral AUs drive both `_L`
and `_R` shapes; a unilateral AU (contempt's) is written with an `R`/`L` prefix, e.g. "R12"
(the subject's right side, ICT's `_R`).

Intensity: level k in 1..4 scales every weight of the recipe by `INTENSITY_SCALE[k]`
(0.25, 0.5, 0.75, 1.0), i.e. the four levels are evenly spaced fractions of the apex, the
linear reading of BU-3DFE's four levels (1 = low ... 4 = highest) that `lgan edit --intensity`
also uses (a = level / 4). Neutral has no intensity (all weights zero).
"""

from __future__ import annotations

from lgan_cli.data.records import RAFD_EXPRESSIONS

#: FACS action unit -> ICT blendshape names (ICT-FaceKit documentation, as in the dataset README).
AU_BLENDSHAPES: dict[int | str, tuple[str, ...]] = {
    1: ("browInnerUp_L", "browInnerUp_R"),  # inner brow raiser
    2: ("browOuterUp_L", "browOuterUp_R"),  # outer brow raiser
    4: ("browDown_L", "browDown_R"),  # brow lowerer
    5: ("eyeWide_L", "eyeWide_R"),  # upper lid raiser
    6: ("cheekSquint_L", "cheekSquint_R"),  # cheek raiser
    7: ("eyeSquint_L", "eyeSquint_R"),  # lid tightener
    9: ("noseSneer_L", "noseSneer_R"),  # nose wrinkler
    10: ("mouthShrugUpper",),  # upper lip raiser
    11: ("mouthUpperUp_L", "mouthUpperUp_R"),  # nasolabial deepener
    12: ("mouthSmile_L", "mouthSmile_R"),  # lip corner puller
    14: ("mouthDimple_L", "mouthDimple_R"),  # dimpler
    15: ("mouthFrown_L", "mouthFrown_R"),  # lip corner depressor
    16: ("mouthLowerDown_L", "mouthLowerDown_R"),  # lower lip depressor
    17: ("mouthShrugLower",),  # chin raiser
    18: ("mouthPucker",),  # lip pucker
    20: ("mouthStretch_L", "mouthStretch_R"),  # lip stretcher
    22: ("mouthFunnel",),  # lip funneler
    24: ("mouthPress_L", "mouthPress_R"),  # lip presser
    26: ("jawOpen",),  # jaw drop
    27: ("jawOpen",),  # mouth stretch (a wider jaw drop)
    28: ("mouthRollLower", "mouthRollUpper"),  # lip suck
    45: ("eyeBlink_L", "eyeBlink_R"),  # blink
    # ICT's browDown lowers the middle and outer brow but hardly the inner end, which alone reads
    # as a worried brow. AU4 also lowers the inner brows and wrinkles the nose root (depressor
    # supercilii, procerus); noseSneer's upper-face part (its brow and nose-root motion, without
    # the lip raise) supplies that, written "4i" (inner brow lowerer) in the recipes.
    "4i": ("noseSneer_L@upper", "noseSneer_R@upper"),
}

#: Apex recipes: {AU (int, "4i", or "R12"/"L12" for one side): weight}.
RECIPES: dict[str, dict[int | str, float]] = {
    "neutral": {},
    # Anger, EMFACS 4+5+7+10+22+23+25,26 (the open-mouth prototype): brows lowered and drawn
    # together, upper lids raised, lids tightened, upper lip raised, lips funnelled and
    # tightened, lips parted. AU23 has no ICT shape: AU24 (lip presser) stands in; AU25 (lips
    # part) is AU16's lower-lip drop; ICT's mouthUpperUp (AU11 in its table) does most of the
    # upper-lip raise, with a little stretch (20). The closed-mouth prototype 4+5+7+23 is a
    # subtle mouth on this model and was read as sad or neutral by the check's classifier.
    "angry": {4: 0.5, "4i": 0.9, 5: 0.5, 7: 0.85, 10: 0.55, 11: 0.9, 16: 0.45, 20: 0.3, 22: 0.3, 24: 0.75},
    # Contempt, EMFACS R12A+R14A: a unilateral, slight lip-corner pull and dimpler (subject's
    # right). Weights above "A" (trace) so the asymmetry shows at 128 px.
    "contemptuous": {"R12": 0.45, "R14": 0.8},
    # Disgust, EMFACS 9+15+16 and 10+16+25,26 (nose wrinkled, upper lip raised, lip corners
    # and lower lip pulled down, lips parted) with the frequent 17 (chin raiser) and 7.
    # The upper-lip raise is ICT's mouthUpperUp (listed as AU11; it lifts the upper lip off the
    # canines) with a little mouthShrugUpper (AU10).
    "disgusted": {9: 0.8, 10: 0.3, 11: 0.6, 15: 0.6, 16: 0.8, 17: 0.5, 7: 0.4, 26: 0.25},
    # Fear, EMFACS 1+2+4+5+7+20+26 (brows raised and pulled together, upper lids raised, lips
    # stretched back, jaw dropped), the stretched lips parted and pulled down (16, 15) as in
    # posed fear photos.
    "fearful": {1: 0.6, 2: 0.2, 4: 0.9, "4i": 0.4, 5: 0.95, 7: 0.15, 15: 0.8, 16: 0.9, 20: 0.75, 26: 0.4},
    # Happiness, EMFACS 6+12 (cheeks raised, lip corners pulled up); the broad posed smile of
    # face databases parts the lips (25: a small 26 and 16), showing the teeth.
    "happy": {6: 0.8, 12: 1.0, 26: 0.08, 16: 0.25},
    # Sadness, EMFACS 1+4+15 (inner brows raised and drawn together, lip corners down), with
    # the common 17 (chin raiser).
    "sad": {1: 1.0, 4: 0.45, 15: 1.0, 17: 0.5},
    # Surprise, EMFACS 1+2+5B+26 (brows raised, upper lids raised, jaw dropped).
    "surprised": {1: 1.0, 2: 1.0, 5: 0.7, 26: 0.45},
}

#: Fraction of the apex recipe at intensity levels 1..4.
INTENSITY_SCALE: dict[int, float] = {1: 0.25, 2: 0.5, 3: 0.75, 4: 1.0}
INTENSITY_LEVELS: tuple[int, ...] = tuple(INTENSITY_SCALE)

if set(RECIPES) != set(RAFD_EXPRESSIONS):
    raise AssertionError("RECIPES must cover exactly the RaFD expressions")


def au_blendshapes(au: int | str) -> tuple[str, ...]:
    """The blendshapes of one AU entry; "R12" -> the right-side (`_R`) shapes of AU12."""
    if au in AU_BLENDSHAPES:
        return AU_BLENDSHAPES[au]
    if isinstance(au, str):
        side, number = au[0].upper(), int(au[1:])
        if side not in "LR":
            raise ValueError(f"unilateral AU must start with L or R, got {au!r}")
        return tuple(name for name in AU_BLENDSHAPES[number] if name.endswith(f"_{side}"))
    return AU_BLENDSHAPES[au]


def mirror_symmetric(expression: str) -> bool:
    """Whether a mirrored face still shows `expression` as its label means it.

    False for a recipe that moves one side only (contempt's R12 + R14): mirrored, the pull is on
    the subject's left, which the label does not say, so a model shown both sides under one label
    learns their average, a symmetric twitch. Names without a recipe (other datasets' labels)
    are taken as symmetric.
    """
    return not any(isinstance(au, str) and au[:1].upper() in "LR" for au in RECIPES.get(expression, {}))


def blendshape_weights(expression: str, intensity: int | None = None) -> dict[str, float]:
    """ICT blendshape weights for an expression at an intensity level (None = the apex, level 4).

    Two AUs driving the same blendshape (26 and 27 both drive jawOpen) add up; weights are
    clipped to [0, 1].
    """
    if expression not in RECIPES:
        raise ValueError(f"unknown expression {expression!r}; known: {', '.join(RAFD_EXPRESSIONS)}")
    scale = 1.0 if intensity is None else INTENSITY_SCALE[intensity]
    weights: dict[str, float] = {}
    for au, weight in RECIPES[expression].items():
        for name in au_blendshapes(au):
            weights[name] = min(1.0, weights.get(name, 0.0) + weight * scale)
    return weights
