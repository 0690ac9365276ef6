"""Overlay pictures: the detected mesh, the 68 iBUG points and their contours on the photo."""

from __future__ import annotations

import cv2
import numpy as np

from lgan_cli.faces.detect import Face
from lgan_cli.faces.ibug68 import CONTOURS

MESH_COLOUR = (170, 170, 170)
CONTOUR_COLOUR = (40, 200, 255)
POINT_COLOUR = (255, 60, 40)
BOX_COLOUR = (60, 220, 60)


def draw_overlay(rgb: np.ndarray, faces: list[Face], draw_mesh: bool = True) -> np.ndarray:
    """A copy of the image with every face's box, mesh (faint), 68 points and contours drawn."""
    canvas = np.ascontiguousarray(rgb.copy())
    unit = max(1, round(max(rgb.shape[:2]) / 600))  # line width that stays visible on big photos
    for index, face in enumerate(faces):
        if draw_mesh:
            for x, y in face.mesh[:, :2]:
                cv2.circle(canvas, _pt(x, y), max(1, unit // 2), MESH_COLOUR, -1, cv2.LINE_AA)
        for indices, closed in CONTOURS:
            polyline = np.array([_pt(*face.points68[i]) for i in indices], dtype=np.int32)
            cv2.polylines(canvas, [polyline], closed, CONTOUR_COLOUR, unit, cv2.LINE_AA)
        for x, y in face.points68:
            cv2.circle(canvas, _pt(x, y), 2 * unit, POINT_COLOUR, -1, cv2.LINE_AA)
        x0, y0, x1, y1 = face.box
        cv2.rectangle(canvas, _pt(x0, y0), _pt(x1, y1), BOX_COLOUR, unit, cv2.LINE_AA)
        cv2.putText(canvas, str(index), _pt(x0, y0 - 4 * unit), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * unit, BOX_COLOUR, unit)
    return canvas


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x)), int(round(y))
