"""Similarity alignment of a face to an S x S crop, and its inverse (crop points back to the photo).

The crop frames the whole face with a margin (forehead, chin and cheeks, a little hair and
background), like the face crops of RaFD or the London set. Its geometry follows the FFHQ
recipe: the crop's axes come from the eye line and the eye-to-mouth vector, so a tilted head
comes out upright, and its side scales with the larger of the eye distance and the
eye-to-mouth distance. Coordinates use OpenCV's convention: pixel centres at integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lgan_cli.faces.ibug68 import eye_centres

MIN_SIZE, MAX_SIZE = 64, 512
HALF_SIDE_PER_EYE_DISTANCE = 2.0
HALF_SIDE_PER_EYE_TO_MOUTH = 1.8
CENTRE_TOWARDS_MOUTH = 0.25  # the crop centre sits a quarter of the way from the eyes to the mouth


@dataclass(frozen=True)
class Alignment:
    """A 2x3 similarity `matrix` mapping photo pixels to crop pixels of an S x S crop."""

    matrix: np.ndarray
    size: int

    @property
    def inverse(self) -> np.ndarray:
        return cv2.invertAffineTransform(self.matrix)

    @property
    def scale(self) -> float:
        """Crop pixels per photo pixel."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        return _apply(self.matrix, points)

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        return _apply(self.inverse, points)

    def crop(self, photo: np.ndarray) -> np.ndarray:
        """Warp the photo into the S x S crop, area-averaging first when shrinking a lot."""
        matrix, source = self.matrix, photo
        prescale = min(1.0, 2.0 * self.scale)
        if prescale < 1.0:
            height, width = photo.shape[:2]
            small_w, small_h = max(1, round(width * prescale)), max(1, round(height * prescale))
            source = cv2.resize(photo, (small_w, small_h), interpolation=cv2.INTER_AREA)
            # photo pixel p maps to small pixel (p + 0.5) * k - 0.5; fold that into the matrix
            to_small = np.array(
                [[small_w / width, 0, 0.5 * small_w / width - 0.5], [0, small_h / height, 0.5 * small_h / height - 0.5]]
            )
            matrix = self.matrix @ np.linalg.inv(np.vstack([to_small, [0, 0, 1]]))
        return cv2.warpAffine(
            source, matrix, (self.size, self.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )

    def to_json(self) -> dict:
        return {"size": self.size, "matrix": np.asarray(self.matrix, dtype=float).round(8).tolist()}

    @classmethod
    def from_json(cls, data: dict) -> Alignment:
        return cls(matrix=np.asarray(data["matrix"], dtype=np.float64), size=int(data["size"]))


def align_face(points68: np.ndarray, size: int, zoom: float = 1.0) -> Alignment:
    """The similarity transform putting a face (its 68 points) into an upright S x S crop.

    `zoom` > 1 crops tighter, < 1 looser.
    """
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"crop size must be {MIN_SIZE}..{MAX_SIZE}, got {size}")
    pts = np.asarray(points68, dtype=np.float64)
    right_eye, left_eye = eye_centres(pts)
    eye_mid = (right_eye + left_eye) / 2
    mouth_mid = (pts[48] + pts[54]) / 2
    eye_to_eye = left_eye - right_eye
    eye_to_mouth = mouth_mid - eye_mid

    # x axis: the eye line blended with the perpendicular of the eye-to-mouth vector
    x_axis = eye_to_eye + np.array([eye_to_mouth[1], -eye_to_mouth[0]])
    x_axis /= np.hypot(*x_axis)
    half_side = (
        max(np.hypot(*eye_to_eye) * HALF_SIDE_PER_EYE_DISTANCE, np.hypot(*eye_to_mouth) * HALF_SIDE_PER_EYE_TO_MOUTH)
        / zoom
    )
    centre = eye_mid + CENTRE_TOWARDS_MOUTH * eye_to_mouth

    scale = (size / 2) / half_side
    cos, sin = x_axis * scale
    rotation = np.array([[cos, sin], [-sin, cos]])  # rotates x_axis onto +x, y axis downwards
    crop_centre = np.array([(size - 1) / 2, (size - 1) / 2])
    translation = crop_centre - rotation @ centre
    return Alignment(matrix=np.hstack([rotation, translation[:, None]]), size=size)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    return (pts @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)
