"""Head pose and the scaled-orthographic (weak-perspective) camera of the landmark fit.

A face a metre from the camera is ~10 cm deep, so perspective changes its landmarks by a few
per cent at most; the weak-perspective camera keeps the fit's Jacobian cheap and its unknowns
few (rotation, one scale, a 2D shift) and has no focal length to guess for an unknown photo.

Convention (as the synthetic renderer's, lgan_cli/synth/render.py): model space is +y up,
+z towards the viewer; R = Rz(roll) @ Rx(pitch) @ Ry(yaw), yaw positive turns the face
towards the image's right, pitch positive tilts it up. Image pixels have +y down, so the
camera flips y:  p = scale * FLIP @ (R @ X) + translation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Drops z and flips y (model +y up -> image +y down).
FLIP = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """3x3 rotation for angles in degrees, R = Rz(roll) @ Rx(pitch) @ Ry(yaw)."""
    y, p, r = np.radians([yaw, pitch, roll])
    cy, sy, cp, sp, cr, sr = np.cos(y), np.sin(y), np.cos(p), np.sin(p), np.cos(r), np.sin(r)
    about_y = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    about_x = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    about_z = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    return about_z @ about_x @ about_y


def euler_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation built as `rotation_matrix` builds it.

    The last row of Rz Rx Ry is (-cos p sin y, sin p, cos p cos y) and its middle column
    (-sin r cos p, cos r cos p, sin p), which gives the three angles (|pitch| < 90 degrees).
    """
    r = np.asarray(rotation, dtype=np.float64)
    pitch = np.arcsin(np.clip(r[2, 1], -1.0, 1.0))
    yaw = np.arctan2(-r[2, 0], r[2, 2])
    roll = np.arctan2(-r[0, 1], r[1, 1])
    return float(np.degrees(yaw)), float(np.degrees(pitch)), float(np.degrees(roll))


def rodrigues(vector: np.ndarray) -> np.ndarray:
    """The rotation exp([v]x) of an axis-angle vector (radians): the fit's pose update."""
    theta = float(np.linalg.norm(vector))
    if theta < 1e-12:
        return np.eye(3)
    k = np.asarray(vector, dtype=np.float64) / theta
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(theta) * cross + (1.0 - np.cos(theta)) * cross @ cross


def nearest_rotation(rows: np.ndarray) -> tuple[np.ndarray, float]:
    """The rotation and scale closest to a 2x3 affine camera block `FLIP @ (s R)`'s rows.

    Used to start the fit from a linear (affine) camera estimate: the SVD gives the nearest
    pair of orthonormal rows, their mean singular value the scale, the cross product the third
    row.
    """
    u, singular, vt = np.linalg.svd(rows, full_matrices=False)
    top = u @ vt
    rotation = np.vstack([top, np.cross(top[0], top[1])])
    return rotation, float(singular.mean())


@dataclass(frozen=True)
class Pose:
    """Weak-perspective head pose in the input's pixel frame.

    `rotation` is the 3x3 matrix (authoritative); yaw/pitch/roll are its angles in degrees for
    reading. `scale` is pixels per model unit (cm), `translation` the image position (px) of the
    model origin.
    """

    rotation: np.ndarray
    scale: float
    translation: np.ndarray

    @property
    def angles(self) -> tuple[float, float, float]:
        """(yaw, pitch, roll) in degrees."""
        return euler_angles(self.rotation)

    @classmethod
    def from_angles(cls, yaw: float, pitch: float, roll: float, scale: float, translation) -> "Pose":
        return cls(rotation_matrix(yaw, pitch, roll), float(scale), np.asarray(translation, dtype=np.float64))

    def project(self, vertices: np.ndarray) -> np.ndarray:
        """(N, 3) model points -> (N, 2) pixels."""
        camera = self.scale * (FLIP @ self.rotation)
        return np.asarray(vertices, dtype=np.float64) @ camera.T + self.translation
