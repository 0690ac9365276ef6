"""Measuring edits of real photos, at full resolution, without a ground truth.

A user judges the edited photo, not the crop. For each photo the editor's output (composed into
the photo exactly as `lgan edit` does) is scored against its input:

- kept: how much of the photograph survives. The output is moved back onto the input with
  dense optical flow (OpenCV's DIS), so the intended motion does not count, and SSIM is taken
  over the face minus the mouth (where an edit may legitimately paint new things). A pure warp
  scores about 0.99; a face re-rendered from a small crop much less. Read it with the
  expression score: an edit that does nothing also scores 1.
- expression: MediaPipe's blendshape scores for the target expression on the output against
  the input's, and face-api's classifier on both.
- identity: face descriptor distance between output and input (same person below 0.6).
- far pixels: pixels changed outside the face and a margin (must be 0); size and format of the
  written file against the input's.
- magnification: the most a warp edit's flow magnifies any part of the face outside the mouth
  (1 / the least area ratio of its map; 1 is none). A pure warp can only stretch what the photo
  shows: lashes magnified 8 times are a dark curtain over the eye, which the optical flow of
  `kept` undoes and so does not see.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from lgan_cli.editing import compose, edit_crops, find_faces
from lgan_cli.eval.metrics import SSIM_RADIUS, ssim_map
from lgan_cli.facenets.expression import (
    DATASET_TO_CLASS,
    EXPRESSION_CLASSES,
    expression_input_from_crop,
    load_expression_net,
)
from lgan_cli.facenets.identity import identity_chip_from_crop, load_identity_net
from lgan_cli.faces.align import align_face
from lgan_cli.faces.decode import load_image, save_image
from lgan_cli.faces.detect import Face, FaceDetector
from lgan_cli.faces.ibug68 import INNER_LIPS, OUTER_LIPS
from lgan_cli.faces.paste import face_mask
from lgan_cli.models.editor import Editor
from lgan_cli.models.flow import area_ratio, ellipse_radius, face_ellipse
from lgan_cli.pixels import to_tensor

EXPRESSION_BLENDSHAPES: dict[str, tuple[str, ...]] = {
    "happy": ("mouthSmileLeft", "mouthSmileRight"),
    "surprised": ("jawOpen", "browInnerUp", "eyeWideLeft", "eyeWideRight"),
    "sad": ("mouthFrownLeft", "mouthFrownRight", "browInnerUp"),
    "angry": ("browDownLeft", "browDownRight", "eyeSquintLeft", "eyeSquintRight"),
    "disgusted": ("noseSneerLeft", "noseSneerRight", "mouthUpperUpLeft", "mouthUpperUpRight"),
    "fearful": ("browInnerUp", "eyeWideLeft", "eyeWideRight", "mouthStretchLeft", "mouthStretchRight"),
    "contemptuous": ("mouthDimpleRight", "mouthSmileRight"),
}
"""MediaPipe blendshapes that judge each expression (their mean is the expression's score).
Neutral has none: its edits are read by the classifier and by the smile going away."""

SMILE = EXPRESSION_BLENDSHAPES["happy"]

FAR_RADIUS = 1.5
"""'Far from the face': beyond 1.5 radii of the ellipse around the face's outline (jaw, brows and
forehead) before and after the edit (an opened mouth lowers the chin), i.e. a margin of half the
face's size all round."""

MOUTH_GROWTH = 0.35
"""The mouth left out of `kept`: the outer-lip hull of the input's and the generated points,
grown by this fraction of the mouth's width."""

JUDGE_CROP = 256
"""Input and output faces are aligned to this size for the identity and expression networks."""

SHEET_HEIGHT = 320
DEFAULT_CROP = 128  # the crop size for editors that work at any size (the copy baseline)


@dataclass
class PhotoScore:
    photo: str
    method: str
    kept: float | None
    expression_score: float | None  # mean of the target's judging blendshapes on the output
    input_expression_score: float | None
    smile: float | None
    input_smile: float | None
    expression_predicted: str | None  # face-api's reading of the output
    input_expression_predicted: str | None
    expression_correct: bool | None  # None: no class for the target (contempt) or no face found
    identity_distance: float | None
    changed_far: int  # pixels changed outside the face and its margin
    mouth_interior: float | None  # mean brightness inside the output's inner lips / of its lips; None: mouth closed
    mouth_detail: float | None  # fine detail inside the output's inner lips / on its lips; None: mouth closed
    magnification: float | None  # the flow's largest magnification of the face outside the mouth; None: no flow
    same_size: bool
    same_format: bool
    seconds: float


MEDIAN_KEYS = (
    "kept",
    "expression_score",
    "input_expression_score",
    "smile",
    "input_smile",
    "identity_distance",
    "changed_far",
    "mouth_interior",
    "mouth_detail",
    "magnification",
)


@dataclass
class PhotoReport:
    expression: str
    intensity: int | float | None
    methods: dict[str, list[PhotoScore]] = field(default_factory=dict)

    def summary(self, method: str) -> dict:
        """Medians over the photos (rates as fractions)."""
        scores = self.methods[method]

        def median(key: str) -> float | None:
            values = [getattr(s, key) for s in scores if getattr(s, key) is not None]
            return float(statistics.median(values)) if values else None

        correct = [s.expression_correct for s in scores if s.expression_correct is not None]
        wanted = DATASET_TO_CLASS.get(self.expression)
        input_read = [s.input_expression_predicted == wanted for s in scores if wanted and s.input_expression_predicted]
        rises = [
            s.expression_score > s.input_expression_score
            for s in scores
            if s.expression_score is not None and s.input_expression_score is not None
        ]
        return {
            "photos": len(scores),
            **{key: median(key) for key in MEDIAN_KEYS},
            "min_kept": min((s.kept for s in scores if s.kept is not None), default=None),
            "max_identity_distance": max(
                (s.identity_distance for s in scores if s.identity_distance is not None), default=None
            ),
            "max_magnification": max((s.magnification for s in scores if s.magnification is not None), default=None),
            "total_changed_far": sum(s.changed_far for s in scores),
            "expression_correct": sum(correct) / len(correct) if correct else None,
            "input_correct": sum(input_read) / len(input_read) if input_read else None,
            "score_rises": sum(rises) / len(rises) if rises else None,
            "same_size_and_format": all(s.same_size and s.same_format for s in scores),
        }

    def to_json(self) -> dict:
        return {
            "expression": self.expression,
            "intensity": self.intensity,
            "judging_blendshapes": list(EXPRESSION_BLENDSHAPES.get(self.expression, ())),
            "methods": {
                name: {"medians": self.summary(name), "photos": [asdict(s) for s in scores]}
                for name, scores in self.methods.items()
            },
        }


class PhotoJudges:
    """The detector and frozen networks that read an edited photo, loaded once."""

    def __init__(self, device: torch.device):
        self.device = device
        self.detector = FaceDetector(max_faces=4)
        self.identity = load_identity_net(device)
        self.expression = load_expression_net(device)

    def close(self) -> None:
        self.detector.close()

    def face_at(self, rgb: np.ndarray, points68: np.ndarray) -> Face | None:
        """The face of `rgb` whose points lie nearest `points68` (the edited face's target points,
        photo pixels): in a photo of several people the edit may leave another face the largest,
        and judging that one would score a stranger."""
        faces = self.detector.detect(rgb)
        centre = np.asarray(points68, dtype=np.float64).mean(axis=0)
        return min(faces, key=lambda f: float(np.linalg.norm(f.points68.mean(axis=0) - centre))) if faces else None

    @torch.no_grad()
    def read(self, rgb: np.ndarray, face: Face) -> tuple[torch.Tensor, str]:
        """(identity descriptor, face-api's expression class) of one face of a photo."""
        alignment = align_face(face.points68, JUDGE_CROP)
        crop = to_tensor(alignment.crop(rgb), device=self.device)
        points = torch.from_numpy(alignment.to_crop(face.points68))[None].to(self.device)
        descriptor = self.identity(identity_chip_from_crop(crop, points))[0]
        probabilities = self.expression(expression_input_from_crop(crop, points))[0]
        return descriptor, EXPRESSION_CLASSES[int(probabilities.argmax())]


def blendshape_score(face: Face | None, names: tuple[str, ...]) -> float | None:
    if face is None or not names:
        return None
    return float(np.mean([face.blendshapes.get(name, 0.0) for name in names]))


def kept_score(before: np.ndarray, after: np.ndarray, region: np.ndarray) -> float | None:
    """SSIM of `before` and `after` moved back onto it by DIS optical flow, averaged over `region`.

    Works on the region's bounding box (plus the SSIM window), in grey levels.
    """
    ys, xs = np.nonzero(region)
    if xs.size == 0:
        return None
    pad = SSIM_RADIUS + 8
    y0, y1 = max(0, ys.min() - pad), min(region.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(region.shape[1], xs.max() + pad + 1)
    grey_before = cv2.cvtColor(before[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    grey_after = cv2.cvtColor(after[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(grey_before, grey_after, None)  # before(p) ~ after(p + flow(p))
    grid_x, grid_y = np.meshgrid(np.arange(x1 - x0, dtype=np.float32), np.arange(y1 - y0, dtype=np.float32))
    moved_back = cv2.remap(
        grey_after, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    to_tensor = lambda image: torch.from_numpy(image.astype(np.float64))[None, None]  # noqa: E731
    local = ssim_map(to_tensor(grey_before), to_tensor(moved_back), data_range=255.0)[0, 0].numpy()
    inside = region[y0:y1, x0:x1][SSIM_RADIUS:-SSIM_RADIUS, SSIM_RADIUS:-SSIM_RADIUS]
    return float(local[inside].mean()) if inside.any() else None


def face_region_without_mouth(
    source_points: np.ndarray, target_points: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Boolean photo mask: the face (jaw, brows, forehead) minus the grown mouth of both shapes."""
    alignment = align_face(source_points, 256)
    face = face_mask(alignment.to_crop(source_points), 256) >= 0.999
    face = cv2.warpAffine(face.astype(np.uint8), alignment.inverse, (shape[1], shape[0]), flags=cv2.INTER_NEAREST) > 0
    lips = np.vstack([source_points[list(OUTER_LIPS)], target_points[list(OUTER_LIPS)]])
    width = float(np.ptp(lips[:, 0]))
    mouth = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mouth, cv2.convexHull(np.round(lips).astype(np.int32)), 1)
    grow = max(3, int(round(MOUTH_GROWTH * width)))
    mouth = cv2.dilate(mouth, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return face & (mouth == 0)


MOUTH_OPEN_SHARE = 0.1
"""A mouth counts as open when its inner-lip polygon covers this share of the outer lips' area."""


def _mouth_regions(shape: tuple[int, int], points: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(inside the inner lips, the lips between outer and inner lines) as boolean masks, or None
    when the mouth at `points` is closed."""
    inner, outer = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    cv2.fillPoly(inner, [np.round(points[list(INNER_LIPS)]).astype(np.int32)], 1)
    cv2.fillPoly(outer, [np.round(points[list(OUTER_LIPS)]).astype(np.int32)], 1)
    lips = (outer == 1) & (inner == 0)
    if inner.sum() < max(4, MOUTH_OPEN_SHARE * outer.sum()) or not lips.any():
        return None
    return inner == 1, lips


def mouth_interior_brightness(rgb: np.ndarray, points: np.ndarray) -> float | None:
    """Mean grey level inside the inner lips over that of the lips themselves (between the outer
    and inner lip lines), at `points` (the edit's target points in the photo).

    An opened mouth shows a dark cavity (well below 1, teeth raise it, a row of upper teeth
    can pass 1); lips merely stretched over the gap read about 1. None when the target mouth is closed."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    regions = _mouth_regions(grey.shape, points)
    if regions is None:
        return None
    inner, lips = regions
    return float(grey[inner].mean() / max(1.0, grey[lips].mean()))


def mouth_interior_detail(rgb: np.ndarray, points: np.ndarray) -> float | None:
    """Fine detail inside the inner lips over that on the lips: mean |Laplacian| of the grey image
    (the photo's own resolution), the opening's rim left out.

    Colours magnified from a 128 px crop are smooth at the photo's scale (well below 1); an
    interior as sharp as the photo's own lips (teeth edges, the cavity's rim) is near or above 1.
    None when the target mouth is closed."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    regions = _mouth_regions(grey.shape, points)
    if regions is None:
        return None
    inner, lips = regions
    inner = cv2.erode(inner.astype(np.uint8), np.ones((5, 5), np.uint8)) == 1  # not the lips' edge
    if not inner.any():
        return None
    detail = np.abs(cv2.Laplacian(grey, cv2.CV_32F))
    return float(detail[inner].mean() / max(1e-3, detail[lips].mean()))


MAGNIFICATION_CAP = 100.0
"""A folded map (area ratio <= 0) is reported as this magnification."""


def warp_magnification(flow: np.ndarray | None, source_points: np.ndarray, target_points: np.ndarray) -> float | None:
    """The largest magnification, 1 / area ratio, of a crop flow (S, S, 2) over the face minus the
    mouth (crop points of both shapes; the mouth may open and fold). None without a flow."""
    if flow is None:
        return None
    size = flow.shape[0]
    region = face_region_without_mouth(source_points, target_points, (size, size))
    if not region.any():
        return None
    least = float(area_ratio(torch.from_numpy(np.ascontiguousarray(flow, np.float32))[None])[0].numpy()[region].min())
    return MAGNIFICATION_CAP if least <= 1.0 / MAGNIFICATION_CAP else 1.0 / least


def changed_far_from_face(before: np.ndarray, after: np.ndarray, *point_sets: np.ndarray) -> int:
    """How many pixels differ beyond FAR_RADIUS radii of the ellipse around the faces' outlines."""
    ys, xs = np.nonzero((before != after).any(axis=2))
    if xs.size == 0:
        return 0
    centre, whitening = face_ellipse(*[torch.from_numpy(np.asarray(p, np.float32))[None] for p in point_sets])
    changed = torch.from_numpy(np.stack([xs, ys], axis=1).astype(np.float32))[None]
    return int((ellipse_radius(changed, centre, whitening) > FAR_RADIUS).sum())


def written_like_input(result: np.ndarray, photo: Path) -> tuple[bool, bool]:
    """(same size, same format) of the result written as `lgan edit` writes it, read back."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"out{photo.suffix.lower() or '.png'}"
        save_image(result, target, like=photo)
        with Image.open(target) as written, Image.open(photo) as original:
            original_size = original.size if _orientation_keeps_size(original) else original.size[::-1]
            return written.size == original_size, written.format == original.format


def _orientation_keeps_size(image: Image.Image) -> bool:
    """EXIF orientations 5-8 swap width and height when the photo is made upright."""
    return image.getexif().get(0x0112, 1) not in (5, 6, 7, 8)


def evaluate_photos(
    editors: list[Editor],
    photos: list[Path],
    requests: list[tuple[str, int | float | None]],
    device: torch.device,
    on_progress: Callable[[], None] | None = None,
    sheet: list[list[np.ndarray]] | None = None,
) -> list[PhotoReport]:
    """Edit every photo with every editor for every (expression, intensity) request (largest
    face) and score the results: one report per request. Each photo is read and judged once.

    With `sheet`, one row per photo is appended: zoomed face crops of the input and each output,
    request after request.
    """
    reports = [
        PhotoReport(expression, intensity, {editor.name: [] for editor in editors})
        for expression, intensity in requests
    ]
    judges = PhotoJudges(device)
    try:
        for photo in photos:
            rgb = load_image(photo)
            sizes = {editor.resolution for editor in editors}
            faces = {
                size: find_faces(judges.detector, rgb, size or DEFAULT_CROP, "largest", str(photo))[0] for size in sizes
            }
            source = next(iter(faces.values())).face
            judged_input = (source, *judges.read(rgb, source))
            row = [rgb]
            for report in reports:
                for editor in editors:
                    result, score = _edit_and_score(
                        editor, faces[editor.resolution], rgb, photo, report, judges, judged_input, device
                    )
                    report.methods[editor.name].append(score)
                    row.append(result)
                if on_progress:
                    on_progress()
            if sheet is not None:
                sheet.append(zoomed_faces(row, source.points68))
    finally:
        judges.close()
    return reports


def _edit_and_score(editor, face, rgb, photo, report, judges, judged_input, device) -> tuple[np.ndarray, PhotoScore]:
    """One edit of one photo, composed as `lgan edit` composes it, and its scores."""
    source, input_descriptor, input_class = judged_input
    names = EXPRESSION_BLENDSHAPES.get(report.expression, ())
    wanted = DATASET_TO_CLASS.get(report.expression)
    started = time.perf_counter()
    edit = edit_crops(editor, [(face, report.expression, report.intensity)], device)[0]
    result = compose(rgb, [edit])
    seconds = time.perf_counter() - started
    target_points = edit.points_in_photo()
    found = judges.face_at(result, target_points)
    descriptor, predicted = judges.read(result, found) if found is not None else (None, None)
    region = face_region_without_mouth(source.points68, target_points, rgb.shape[:2])
    same_size, same_format = written_like_input(result, photo)
    return result, PhotoScore(
        photo=str(photo),
        method=editor.name,
        kept=kept_score(rgb, result, region),
        expression_score=blendshape_score(found, names),
        input_expression_score=blendshape_score(source, names),
        smile=blendshape_score(found, SMILE),
        input_smile=blendshape_score(source, SMILE),
        expression_predicted=predicted,
        input_expression_predicted=input_class,
        expression_correct=None if wanted is None or predicted is None else predicted == wanted,
        identity_distance=None if descriptor is None else float((descriptor - input_descriptor).norm()),
        changed_far=changed_far_from_face(rgb, result, source.points68, target_points),
        mouth_interior=mouth_interior_brightness(result, target_points),
        mouth_detail=mouth_interior_detail(result, target_points),
        magnification=warp_magnification(edit.flow, face.points, edit.points),
        same_size=same_size,
        same_format=same_format,
        seconds=seconds,
    )


def zoomed_faces(images: list[np.ndarray], points: np.ndarray) -> list[np.ndarray]:
    """The same face box cut from each image and scaled to SHEET_HEIGHT (a zoomed before/after)."""
    low, high = points.min(axis=0), points.max(axis=0)
    centre, half = (low + high) / 2, 0.65 * float((high - low).max())
    centre[1] -= 0.12 * half  # room for the forehead
    height, width = images[0].shape[:2]
    side = int(min(round(2 * half), height, width))
    x0 = int(np.clip(round(centre[0] - side / 2), 0, width - side))
    y0 = int(np.clip(round(centre[1] - side / 2), 0, height - side))  # a square box, moved inside the photo
    crops = []
    for image in images:
        box = image[y0 : y0 + side, x0 : x0 + side]
        interpolation = cv2.INTER_AREA if side > SHEET_HEIGHT else cv2.INTER_CUBIC
        crops.append(cv2.resize(box, (SHEET_HEIGHT, SHEET_HEIGHT), interpolation=interpolation))
    return crops


LABEL_FONT, LABEL_SCALE, LABEL_LINE = cv2.FONT_HERSHEY_SIMPLEX, 0.6, 22


def wrapped(label: str, width: int) -> list[str]:
    """`label` in lines of whole words that fit `width` pixels (a longer word gets a line of its own)."""
    lines: list[str] = []
    for word in label.split():
        joined = f"{lines[-1]} {word}" if lines else word
        if lines and cv2.getTextSize(joined, LABEL_FONT, LABEL_SCALE, 1)[0][0] <= width:
            lines[-1] = joined
        else:
            lines.append(word)
    return lines


def contact_sheet(rows: list[list[np.ndarray]], labels: list[str]) -> np.ndarray:
    """Rows of zoomed faces with a header naming each column, wrapped to the column's width and
    clipped to it, so a long method name never runs into its neighbour's."""
    gap = 6
    width = max(sum(c.shape[1] for c in row) + gap * (len(row) - 1) for row in rows)
    names = [wrapped(label, crop.shape[1] - 12) for label, crop in zip(labels, rows[0])]
    header = np.full((LABEL_LINE * max(len(n) for n in names) + 8, width, 3), 255, np.uint8)
    x = 0
    for name, crop in zip(names, rows[0]):
        column = header[:, x : x + crop.shape[1]].copy()
        for k, text in enumerate(name):
            cv2.putText(column, text, (6, LABEL_LINE * (k + 1) - 2), LABEL_FONT, LABEL_SCALE, (0, 0, 0), 1, cv2.LINE_AA)
        header[:, x : x + crop.shape[1]] = column
        x += crop.shape[1] + gap
    lines = [header]
    for row in rows:
        line = np.full((SHEET_HEIGHT, width, 3), 255, np.uint8)
        x = 0
        for crop in row:
            line[:, x : x + crop.shape[1]] = crop
            x += crop.shape[1] + gap
        lines += [line, np.full((gap, width, 3), 255, np.uint8)]
    return np.ascontiguousarray(np.vstack(lines))
