"""The 68-point iBUG/Multi-PIE layout and its mapping from MediaPipe's 478-point face mesh.

The method (and every dataset it was trained on) speaks in the 68 iBUG points that OpenFace
and dlib produce. MediaPipe's Face Landmarker gives a dense 478-vertex mesh instead; each
iBUG point is taken as one mesh vertex, chosen to land where dlib's 68-point predictor puts
that point on frontal photos (validated in tests/test_ibug68_mapping.py against dlib on the
London photos; the error is reported in the README).

iBUG order (0-based, subject's right = image left on a frontal face):
  0-16 jaw line (image left to right), 17-21 right brow, 22-26 left brow,
  27-30 nose bridge (top to tip), 31-35 nostrils, 36-41 right eye, 42-47 left eye,
  48-59 outer lips (clockwise from the right corner), 60-67 inner lips.
"""

from __future__ import annotations

import numpy as np

MESH_TO_IBUG68: tuple[int, ...] = (
    # jaw 0-16
    127,
    234,
    93,
    215,
    138,
    136,
    149,
    176,
    152,
    400,
    378,
    365,
    367,
    435,
    323,
    454,
    356,
    # right brow 17-21, left brow 22-26
    70,
    63,
    105,
    66,
    107,
    336,
    296,
    334,
    293,
    300,
    # nose bridge 27-30, nostrils 31-35
    168,
    197,
    195,
    4,
    75,
    97,
    2,
    326,
    305,
    # right eye 36-41, left eye 42-47
    33,
    160,
    158,
    155,
    153,
    144,
    382,
    385,
    387,
    263,
    373,
    380,
    # outer lips 48-59
    61,
    39,
    37,
    0,
    267,
    269,
    291,
    405,
    314,
    17,
    84,
    181,
    # inner lips 60-67
    96,
    82,
    13,
    312,
    325,
    317,
    14,
    87,
)

JAW = tuple(range(0, 17))
RIGHT_BROW = tuple(range(17, 22))
LEFT_BROW = tuple(range(22, 27))
NOSE = tuple(range(27, 36))
RIGHT_EYE = tuple(range(36, 42))
LEFT_EYE = tuple(range(42, 48))
OUTER_LIPS = tuple(range(48, 60))
INNER_LIPS = tuple(range(60, 68))
INNER_51 = tuple(range(17, 68))
"""The 51 points without the jaw line: the usual subset for comparing detectors."""

# Index permutation for a horizontal flip: flipped[i] = points[FLIP[i]] after mirroring x.
FLIP_PERMUTATION: tuple[int, ...] = (
    16,
    15,
    14,
    13,
    12,
    11,
    10,
    9,
    8,
    7,
    6,
    5,
    4,
    3,
    2,
    1,
    0,
    26,
    25,
    24,
    23,
    22,
    21,
    20,
    19,
    18,
    17,
    27,
    28,
    29,
    30,
    35,
    34,
    33,
    32,
    31,
    45,
    44,
    43,
    42,
    47,
    46,
    39,
    38,
    37,
    36,
    41,
    40,
    54,
    53,
    52,
    51,
    50,
    49,
    48,
    59,
    58,
    57,
    56,
    55,
    64,
    63,
    62,
    61,
    60,
    67,
    66,
    65,
)

# Polylines for drawing overlays (closed ones are marked).
CONTOURS: tuple[tuple[tuple[int, ...], bool], ...] = (
    (JAW, False),
    (RIGHT_BROW, False),
    (LEFT_BROW, False),
    (tuple(range(27, 31)), False),
    (tuple(range(31, 36)), False),
    (RIGHT_EYE, True),
    (LEFT_EYE, True),
    (OUTER_LIPS, True),
    (INNER_LIPS, True),
)


def mesh_to_ibug68(mesh: np.ndarray) -> np.ndarray:
    """Select the 68 iBUG points (x, y) from a (478, >=2) mesh array."""
    return np.asarray(mesh)[list(MESH_TO_IBUG68), :2].astype(np.float32)


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right eye centre, left eye centre) in image coordinates: image-left eye first."""
    pts = np.asarray(points, dtype=np.float64)
    return pts[list(RIGHT_EYE)].mean(axis=0), pts[list(LEFT_EYE)].mean(axis=0)
