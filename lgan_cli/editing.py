"""Editing real photos: detect and align faces, run the model on the crops, paste the results back.

The file reads in the order the data flows. The request is checked first (`parse_intensity`,
`check_expressions`); then detection and alignment happen once per photo (`find_faces`: the
photo's faces as `AlignedFace`s); the model runs on any number of (face, expression,
intensity) requests in batches (`edit_crops`: `FaceEdit`s); and each result is put into the
original full-resolution photo (`compose`). `lgan edit`, `lgan batch` and `lgan animate` are
thin loops around these three steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lgan_cli.errors import LganError
from lgan_cli.faces.align import Alignment, align_face
from lgan_cli.faces.compose import compose_warp
from lgan_cli.faces.detect import Face, FaceDetector, select_faces
from lgan_cli.faces.expression_shading import shade_expression
from lgan_cli.faces.landmark_image import render_landmark_image, sample_colours
from lgan_cli.faces.lips import draw_face_model_mouth
from lgan_cli.faces.paste import face_mask, paste_faces
from lgan_cli.models.editor import Editor
from lgan_cli.pixels import to_pictures, to_tensor

# ----- the request: intensity and expressions, checked before any work


def parse_intensity(text: str | None) -> int | float | None:
    """'1'..'4' are the paper's levels (4 = full); a decimal such as 0.5 or 1.0 is a fraction in [0, 1]
    (0: no change, with a warp model the photo comes back as it was)."""
    if text is None:
        return None
    value = text.strip()
    try:
        if value.isdigit() and value != "0":
            level = int(value)
            if 1 <= level <= 4:
                return level
        else:
            fraction = float(value)
            if 0.0 <= fraction <= 1.0:
                return fraction
    except ValueError:
        pass
    raise LganError(f"--intensity must be a level 1..4 or a fraction in [0, 1] such as 0.5, not {text!r}")


def intensity_label(intensity: int | float | None) -> str:
    """A short tag for file names: '' (full), 'i3' (level 3), 'a0.5' (fraction)."""
    if intensity is None:
        return ""
    return f"i{intensity}" if isinstance(intensity, int) else f"a{intensity:g}"


def check_expressions(editor: Editor, expressions: list[str]) -> None:
    """Refuse, in one line, expressions the model does not know (any name, for a model without a list)."""
    if editor.expressions is None:
        return
    unknown = [e for e in expressions if e not in editor.expressions]
    if unknown:
        raise LganError(
            f"model '{editor.name}' does not know the expression {', '.join(repr(u) for u in unknown)}; "
            f"it knows: {', '.join(editor.expressions)}"
        )


# ----- 1. find the faces: detect, pick and align, once per photo


@dataclass
class AlignedFace:
    """A face found in a photo, aligned to the model's crop size."""

    face: Face
    alignment: Alignment
    crop: np.ndarray  # (S, S, 3) uint8
    points: np.ndarray  # (68, 2) in crop pixels


def find_faces(detector: FaceDetector, rgb: np.ndarray, size: int, which: str | int, source: str) -> list[AlignedFace]:
    """Detect, pick (--face) and align the faces of one photo."""
    chosen = select_faces(detector.detect(rgb, every_face=which != "largest"), which, source=source)
    aligned = []
    for face in chosen:
        alignment = align_face(face.points68, size)
        aligned.append(AlignedFace(face, alignment, alignment.crop(rgb), alignment.to_crop(face.points68)))
    return aligned


# ----- 2. run the model: (face, expression, intensity) requests, batched


@dataclass
class FaceEdit:
    """One edited face: the generated crop and landmarks, ready to paste back."""

    source: AlignedFace
    expression: str
    intensity: int | float | None
    crop: np.ndarray  # (S, S, 3) uint8, the model's output
    points: np.ndarray  # (68, 2) generated target landmarks, crop pixels
    # how a warp renderer made the crop, so the photo itself can be moved (None: a re-rendering model)
    flow: np.ndarray | None = None  # (S, S, 2) float32 backward flow, crop pixels
    mask: np.ndarray | None = None  # (S, S) float32 synthesis mask m
    colours: np.ndarray | None = None  # (S, S, 3) uint8 synthesised colours c
    mouth_interior: str = "learned"  # what fills parted lips in the photo (models.config.MOUTH_INTERIORS)
    shading: str = "none"  # the skin's change of light in the photo (models.config.SHADINGS)

    def landmark_image(self) -> np.ndarray:
        """The paper's landmark image of the generated points, coloured from the input crop."""
        colours = sample_colours(self.source.crop, self.points)
        return render_landmark_image(self.points, self.source.crop.shape[0], colours)

    def points_in_photo(self) -> np.ndarray:
        return self.source.alignment.to_photo(self.points)

    def delivered_crop(self) -> np.ndarray:
        """The edited crop as the photo gets it: with the "face-model" mouth and shading drawn in at
        the crop's resolution (`models.editor.crops_as_delivered`)."""
        crop = self.crop
        if self.flow is not None and self.mouth_interior == "face-model":
            crop = draw_face_model_mouth(crop, self.source.crop, self.source.points, self.points)
        if self.flow is not None and self.shading == "face-model":
            crop = shade_expression(crop, self.source.points, self.points)
        return crop


def default_intensity(editor: Editor, expression: str, intensity: int | float | None) -> int | float | None:
    """Without --intensity, a model trained with levels gets its top level (neutral: no level)."""
    levels = getattr(getattr(editor, "model", None), "config", None)
    levels = getattr(levels, "intensity_levels", 0)
    if intensity is None and levels and expression != "neutral":
        return levels
    return intensity


@torch.no_grad()
def edit_crops(
    editor: Editor,
    requests: list[tuple[AlignedFace, str, int | float | None]],
    device: torch.device,
    batch_size: int = 8,
) -> list[FaceEdit]:
    """Run the model over (face, expression, intensity) requests, `batch_size` crops per forward pass."""
    results: list[FaceEdit] = []
    for start in range(0, len(requests), batch_size):
        chunk = requests[start : start + batch_size]
        crops = to_tensor([face.crop for face, _, _ in chunk]).to(device)
        points = torch.from_numpy(np.stack([face.points for face, _, _ in chunk]).astype(np.float32)).to(device)
        intensities = [default_intensity(editor, e, i) for _, e, i in chunk]
        output = editor.edit(crops, points, [e for _, e, _ in chunk], intensities)
        images = to_pictures(output.images)
        generated = output.points68.cpu().numpy() if output.points68 is not None else points.cpu().numpy()
        warp = output.flow is not None
        flows = output.flow.float().cpu().numpy() if warp else None
        masks = output.mask.float().cpu().numpy() if warp else None
        colours = to_pictures(output.colours) if warp else None
        for index, (face, expression, intensity) in enumerate(chunk):
            results.append(
                FaceEdit(
                    face,
                    expression,
                    intensity,
                    images[index],
                    generated[index],
                    flow=flows[index] if warp else None,
                    mask=masks[index] if warp else None,
                    colours=colours[index] if warp else None,
                    mouth_interior=getattr(editor, "mouth_interior", "learned"),
                    shading=getattr(editor, "shading", "none"),
                )
            )
    return results


# ----- 3. compose: every edit into the photo, at its own resolution


def compose(photo: np.ndarray, edits: list[FaceEdit], keep_detail: bool = True) -> np.ndarray:
    """The photo with every edit applied at its own resolution, face after face.

    A warp renderer's edit moves the photo's own pixels by its flow, lifted from the crop, and
    blends in only what it synthesised (`compose_warp`); with a "face-model" mouth interior, the
    fitted 3D model's teeth and cavity are then drawn between the target lips at the photo's
    resolution, and an open mouth of the photo's that the target closes gets lips drawn from the
    photo's own (`lips.draw_face_model_mouth`); with "face-model" shading the moved skin then
    takes the 3D model's change of light (`expression_shading.shade_expression`). A re-rendering model's crop (the
    paper's U-Net) is pasted back through a feathered face mask, colour matched, with the
    photo's own fine detail laid back where the edit left the face unchanged (`keep_detail`).
    """
    out = photo
    for edit in edits:
        alignment = edit.source.alignment
        if edit.flow is not None:
            moved = compose_warp(out, alignment, edit.flow, edit.mask, edit.colours)
            if edit.mouth_interior == "face-model":  # the mouth at the photo's resolution: opened or closed
                moved = draw_face_model_mouth(moved, out, edit.source.face.points68, edit.points_in_photo())
            if edit.shading == "face-model":  # a smile's folds and cheeks, lit at the photo's resolution
                moved = shade_expression(moved, edit.source.face.points68, edit.points_in_photo())
            out = moved
        else:
            mask = face_mask(np.stack([edit.source.points, edit.points]), edit.source.crop.shape[0])
            out = paste_faces(out, [(edit.crop, alignment, mask, edit.source.crop)], keep_detail=keep_detail)
    return out.copy() if out is photo else out
