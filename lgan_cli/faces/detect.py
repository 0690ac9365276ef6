"""Face detection with MediaPipe's Face Landmarker (Tasks API).

One detector call gives, per face, the 478-point mesh, the 52 ARKit blendshape scores and,
through `ibug68`, the 68 iBUG points the method is built on.

MediaPipe's detector sees the whole image at 128 px, so a face narrower than about a tenth of
the photo (a person a few metres away in a phone photo: a 300 px face in 4000 x 3000) is not
found. When the whole image shows no face, it is searched again in overlapping tiles, coarse to
fine (`tiles`), and each face found is taken from a tile that holds it whole; asked for every
face (`--face all`, or one by number), the tiles are searched as well, at every size.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lgan_cli.assets import FACE_LANDMARKER, asset_path
from lgan_cli.errors import LganError, NoFaceError
from lgan_cli.faces.ibug68 import mesh_to_ibug68

SMALLEST_TILE = 240
"""Tiles get no smaller than this (px): the finest search finds faces down to about 40 px."""

TILE_EDGE_MARGIN = 0.02
"""A face within this fraction of a tile's side of an edge it shares with the rest of the image
may be cut by the tile: another tile, overlapping this one by half, holds it whole."""

TILE_CONFIDENCE = 0.8
"""MediaPipe's detection and presence confidence in tiles (the whole image: the caller's, 0.5 by
default). Hundreds of small tiles give a loose threshold hundreds of chances: with the face of a
London photo painted over and the photo enlarged to 4000 px, 2 of 25 gave an ear or a shirt as a
face at 0.5, none at 0.7-0.9, which still find every small face of the tests (48-180 px)."""

SAME_FACE_OVERLAP = 0.3
"""Two detections are one face when more than this share of the smaller box lies in the larger:
a tile showing only the middle of a large face (a selfie) can find a 'face' inside it (a third of
its size, wholly inside; intersection over union 0.15)."""


class _NativeStderr:
    """The process's file descriptor 2, pointed at /dev/null while any thread needs quiet.

    Redirecting fd 2 is process-wide, so threads (`lgan batch` detects in several) share one
    redirection: the first to enter saves the real stream and silences it, the last to leave
    puts it back. Each thread saving and restoring on its own would let one restore /dev/null
    as "the real stream" and silence the process for good (progress, summary, errors).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.saved: int | None = None

    def enter(self) -> None:
        with self.lock:
            if self.users == 0:
                sys.stderr.flush()
                self.saved = os.dup(2)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
            self.users += 1

    def leave(self) -> None:
        with self.lock:
            self.users -= 1
            if self.users == 0 and self.saved is not None:
                os.dup2(self.saved, 2)
                os.close(self.saved)
                self.saved = None


_NATIVE_STDERR = _NativeStderr()


@contextlib.contextmanager
def quiet_native_stderr():
    """Silence MediaPipe's C++ log lines (absl/TFLite write straight to fd 2) unless LGAN_DEBUG is set.

    Errors still surface: MediaPipe raises Python exceptions for them. Safe to use from
    several threads at once (see `_NativeStderr`).
    """
    if os.environ.get("LGAN_DEBUG"):
        yield
        return
    _NATIVE_STDERR.enter()
    try:
        yield
    finally:
        _NATIVE_STDERR.leave()


@dataclass(frozen=True)
class Face:
    """One detected face, all coordinates in pixels of the image it was found in."""

    mesh: np.ndarray  # (478, 3): x, y in pixels (pixel centres at integers); z scaled like x
    points68: np.ndarray  # (68, 2) iBUG points
    blendshapes: dict[str, float] = field(default_factory=dict)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1): the extent of the face mesh."""
        xy = self.mesh[:, :2]
        x0, y0 = xy.min(axis=0)
        x1, y1 = xy.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return (x1 - x0) * (y1 - y0)

    def to_json(self, include_mesh: bool = True) -> dict:
        out = {
            "box": [round(v, 2) for v in self.box],
            "points68": np.round(self.points68, 2).tolist(),
            "blendshapes": {k: round(v, 4) for k, v in self.blendshapes.items()},
        }
        if include_mesh:
            out["mesh478"] = np.round(self.mesh, 2).tolist()
        return out


class FaceDetector:
    """MediaPipe Face Landmarker in still-image mode; use as a context manager or call close()."""

    def __init__(self, model_path: Path | None = None, max_faces: int = 8, min_confidence: float = 0.5):
        self._path = Path(model_path) if model_path else asset_path(FACE_LANDMARKER)
        self._max_faces = max_faces
        self._landmarker = self._create(min_confidence)
        self._tile_landmarker = None  # made when a photo first needs its tiles searched

    def _create(self, confidence: float):
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self._path)),
            running_mode=vision.RunningMode.IMAGE,
            num_faces=self._max_faces,
            min_face_detection_confidence=confidence,
            min_face_presence_confidence=confidence,
            output_face_blendshapes=True,
        )
        try:
            with quiet_native_stderr():
                return vision.FaceLandmarker.create_from_options(options)
        except Exception as exc:  # MediaPipe raises RuntimeError/ValueError with long texts
            raise LganError(
                f"could not load the face landmark model {self._path}: {str(exc).splitlines()[0]}"
            ) from None

    def detect(self, rgb: np.ndarray, every_face: bool = False) -> list[Face]:
        """All faces in an RGB uint8 image, largest first; small faces in tiles when the whole
        image shows none, or always with `every_face` (`--face all` or `--face N`: a group photo's
        small faces beside a large one), at every tile size (see the module)."""
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError("detect() expects an (H, W, 3) uint8 RGB array")
        faces = self._detect_whole(rgb)
        if every_face or not faces:  # the whole image's reading of a face first: the tiles only add faces
            faces = distinct_faces(faces + self._detect_in_tiles(rgb, every_size=every_face))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces

    def _detect_in_tiles(self, rgb: np.ndarray, every_size: bool = False) -> list[Face]:
        """Faces found in overlapping square tiles, halving the tile side until some are found
        (with `every_size`, down to SMALLEST_TILE)."""
        height, width = rgb.shape[:2]
        side = max(height, width) // 2
        found: list[Face] = []
        if side >= SMALLEST_TILE and self._tile_landmarker is None:
            self._tile_landmarker = self._create(TILE_CONFIDENCE)
        while side >= SMALLEST_TILE and (every_size or not found):
            for x0, y0, x1, y1 in tiles(width, height, side):
                for face in self._detect_whole(rgb[y0:y1, x0:x1], self._tile_landmarker):
                    if not cut_by_tile(face.box, (x0, y0, x1, y1), width, height):
                        found.append(shifted(face, x0, y0))
            side //= 2
        return distinct_faces(sorted(found, key=lambda f: f.area, reverse=True))

    def _detect_whole(self, rgb: np.ndarray, landmarker=None) -> list[Face]:
        """The faces MediaPipe (`landmarker`, the detector's own by default) finds in the image as
        a whole, in its pixel coordinates."""
        import mediapipe as mp

        height, width = rgb.shape[:2]
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        with quiet_native_stderr():
            result = (landmarker or self._landmarker).detect(image)
        faces = []
        for index, landmarks in enumerate(result.face_landmarks):
            # MediaPipe's normalised coordinates run from the image's left edge (0) to its right
            # edge (1); we use OpenCV's convention of pixel centres at integer coordinates.
            mesh = np.array([(p.x * width - 0.5, p.y * height - 0.5, p.z * width) for p in landmarks], dtype=np.float32)
            scores = {}
            if result.face_blendshapes:
                scores = {c.category_name: float(c.score) for c in result.face_blendshapes[index]}
            faces.append(Face(mesh=mesh, points68=mesh_to_ibug68(mesh), blendshapes=scores))
        return faces

    def close(self) -> None:
        for name in ("_landmarker", "_tile_landmarker"):
            landmarker = getattr(self, name, None)
            setattr(self, name, None)
            if landmarker is not None:
                landmarker.close()

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # close before interpreter shutdown tears MediaPipe down
        try:
            self.close()
        except Exception:
            pass


def select_faces(faces: list[Face], which: str | int, source: str = "image") -> list[Face]:
    """Pick faces by the CLI's --face option: 'largest', 'all', or a 0-based index (largest first)."""
    if not faces:
        raise NoFaceError(f"no face found in {source}")
    if which == "largest":
        return faces[:1]
    if which == "all":
        return list(faces)
    index = int(which)
    if not 0 <= index < len(faces):
        raise LganError(f"--face {index}: {source} has {len(faces)} face(s), numbered 0..{len(faces) - 1} by size")
    return [faces[index]]


def tiles(width: int, height: int, side: int) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) of square tiles of `side` px (clipped to the image) overlapping by half,
    covering a `width` x `height` image; the last row and column end at its edges."""

    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        stride = side // 2
        return sorted(set(range(0, length - side, stride)) | {length - side})

    return [(x, y, min(x + side, width), min(y + side, height)) for y in starts(height) for x in starts(width)]


Box = tuple[float, float, float, float]


def cut_by_tile(box: Box, tile: tuple[int, int, int, int], width: int, height: int) -> bool:
    """Whether a face `box` (tile pixels) comes near an edge the tile shares with the rest of the
    image, where the tile may have cut it (edges on the image's own border do not count)."""
    x0, y0, x1, y1 = tile
    margin = TILE_EDGE_MARGIN * max(x1 - x0, y1 - y0)
    bx0, by0, bx1, by1 = box
    return (
        (x0 > 0 and bx0 < margin)
        or (y0 > 0 and by0 < margin)
        or (x1 < width and bx1 > x1 - x0 - 1 - margin)
        or (y1 < height and by1 > y1 - y0 - 1 - margin)
    )


def shifted(face: Face, dx: int, dy: int) -> Face:
    """`face` found in a tile, in the coordinates of the image the tile was cut from."""
    mesh = face.mesh.copy()
    mesh[:, 0] += dx
    mesh[:, 1] += dy
    return Face(mesh=mesh, points68=mesh_to_ibug68(mesh), blendshapes=face.blendshapes)


def box_overlap(a: Box, b: Box) -> float:
    """The share of the smaller of two (x0, y0, x1, y1) boxes that lies in the other."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return width * height / smaller if smaller > 0 else 0.0


def distinct_faces(faces: list[Face]) -> list[Face]:
    """One detection per face: of those that overlap (SAME_FACE_OVERLAP), the first given."""
    kept: list[Face] = []
    for face in faces:
        if all(box_overlap(face.box, other.box) <= SAME_FACE_OVERLAP for other in kept):
            kept.append(face)
    return kept
