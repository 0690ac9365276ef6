"""The interface every expression editor offers to evaluation and the CLI, and the copy baseline.

An editor turns aligned crops (B, 3, S, S) in [-1, 1], with their 68 points in crop pixels,
into crops showing the requested expressions. Evaluation only needs this interface, so
LandmarkGAN checkpoints and baselines are measured by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from lgan_cli.models.anchoring import anchored_points
from lgan_cli.models.config import MOUTH_INTERIORS, SHADINGS, TARGET_POINTS
from lgan_cli.models.flow import prior_flow, warp
from lgan_cli.models.warpable import warpable_targets


@dataclass
class EditResult:
    images: torch.Tensor  # (B, 3, S, S) in [-1, 1]
    points68: torch.Tensor | None = None  # (B, 68, 2) generated target landmarks, crop pixels
    # warp renderers also say how they made the images, so a photo can be edited at its own resolution:
    flow: torch.Tensor | None = None  # (B, S, S, 2) backward flow, crop pixels
    mask: torch.Tensor | None = None  # (B, S, S) synthesis mask m in [0, 1]
    colours: torch.Tensor | None = None  # (B, 3, S, S) synthesised colours c in [-1, 1]


class Editor(Protocol):
    name: str
    resolution: int | None  # None: works at any size
    expressions: tuple[str, ...] | None  # None: accepts any expression name

    def edit(
        self, crops: torch.Tensor, points68: torch.Tensor, expressions: list[str], intensities: list[float | None]
    ) -> EditResult: ...


class CopyEditor:
    """The 'copy the input' baseline: returns the source face unchanged.

    Any method worth using must beat it on the metrics that compare with the target photo.
    """

    name = "copy"
    resolution = None
    expressions = None

    def edit(self, crops, points68, expressions, intensities) -> EditResult:
        return EditResult(images=crops.clone(), points68=points68.clone())


PAPER_LEVELS = 4
"""BU-3DFE's four intensity levels (paper Eq. 10); level 4 is the full expression."""


class LandmarkGANEditor:
    """A trained LandmarkGAN behind the Editor interface.

    Intensity, per sample: an `int` is one of the paper's levels 1..4, a `float` in (0, 1]
    a fraction of the full edit, None the model's default (full). A model trained with
    intensity labels (Eq. 10) gets levels as labels. Fractions, and levels for any model
    trained without intensity labels (level k = k/4), scale the landmark displacement,
    target = source + a * (generated - source), before G_e renders, so every model offers
    continuous intensity. G_e also sees the expression label, and a full "happy" label makes
    it paint a full smile whatever the landmarks say; so for a fraction its label is blended
    the same way, a * target + (1 - a) * neutral, when the model knows neutral.

    `aus`, a FACS action-unit mix ({12: 0.8, 26: 0.5}), adds the 3D face model's motion of those
    units (fitted to each face, its own expression kept) to G_l's points; intensity scales both.

    `fitted_points` replaces G_l by the 3D face model fitted to the face (the targets G_l was
    trained on, `fitted_target_points`): the measure of what the paper's image-to-points G_l
    loses or gains against using the fitted geometry directly.

    `mouth_interior` overrides the model's `mouth_interior` setting (config.MOUTH_INTERIORS):
    what fills the target's mouth: "face-model" is drawn by `compose` at the photo's resolution,
    and on the crops at theirs by `crops_as_delivered` (what crop-level evaluation scores).

    A warp renderer's target eyes open at most `warpable.EYE_OPENING_LIMIT` times the photo's
    own (a squinting smile made surprised would otherwise stretch its lashes into a curtain),
    and its crossed inner lips meet at their seam (`warpable.lips_meet`).

    `shading` overrides the model's `shading` setting (config.SHADINGS): "face-model" has `compose`
    (and `crops_as_delivered`) shade the moved skin with the 3D model's change of light.

    `target_points` overrides the model's `target_points` setting (config.TARGET_POINTS): G_l's
    points as generated, or anchored on the face's own where it is neutral (`anchoring`).

    `prior_only` is the warp renderer's ablation: G_l's points move the crop's pixels through
    the thin-plate-spline prior alone (no learned residual flow, no synthesis), so an evaluation
    can show what stage II's learning adds. `settings` is the checkpoint's config.json document
    (the run that trained it, its data), when the model was loaded from one.
    """

    def __init__(
        self,
        model,
        name: str,
        prior_only: bool = False,
        aus: dict | None = None,
        settings: dict | None = None,
        fitted_points: bool = False,
        mouth_interior: str | None = None,
        target_points: str | None = None,
        shading: str | None = None,
    ):
        self.model = model
        self.settings = settings or {}
        self.prior_only = prior_only
        self.fitted_points = fitted_points
        self.aus = dict(aus or {})
        self.name = f"{name} (prior warp only)" if prior_only else name
        if fitted_points:
            self.name = f"{self.name} (fitted geometry as stage I)"
        own = getattr(model.config, "mouth_interior", "learned")
        if mouth_interior is not None and mouth_interior not in MOUTH_INTERIORS:
            raise ValueError(f"mouth_interior must be one of {MOUTH_INTERIORS}, got {mouth_interior!r}")
        self.mouth_interior = "learned" if prior_only else mouth_interior or own
        if self.mouth_interior != own and not prior_only:
            self.name = f"{self.name} ({self.mouth_interior} mouth)"
        own_shading = getattr(model.config, "shading", "none")
        if shading is not None and shading not in SHADINGS:
            raise ValueError(f"shading must be one of {SHADINGS}, got {shading!r}")
        self.shading = "none" if prior_only else shading or own_shading
        if self.shading != own_shading and not prior_only:
            self.name = f"{self.name} ({'no' if self.shading == 'none' else self.shading} shading)"
        own_points = getattr(model.config, "target_points", "generated")
        if target_points is not None and target_points not in TARGET_POINTS:
            raise ValueError(f"target_points must be one of {TARGET_POINTS}, got {target_points!r}")
        self.target_points = target_points or own_points
        if self.target_points != own_points and not fitted_points:
            self.name = f"{self.name} ({self.target_points} points)"
        self.resolution = model.config.resolution
        self.expressions = model.config.expressions

    def edit(self, crops, points68, expressions, intensities) -> EditResult:
        plan = [label_and_fraction(value, self.model.config.intensity_levels) for value in intensities]
        labels = self.model.encode_labels(expressions, [level for level, _ in plan])
        levels = [level or PAPER_LEVELS for level, _ in plan]
        if self.fitted_points:  # the 3D model's target points instead of G_l's (stage I's alternative)
            points = fitted_target_points(points68, expressions, levels)
        else:
            points = self._stage_one(crops, points68, labels, expressions, levels)
            if self.target_points == "anchored":
                points = self._anchored(crops, points68, points)
        if self.aus:
            points = points + action_unit_motion(points68, self.aus)
        fractions = torch.tensor([fraction for _, fraction in plan], device=points.device, dtype=points.dtype)
        if (fractions != 1).any():
            points = points68 + fractions[:, None, None] * (points - points68)
            labels = self._blend_towards_neutral(labels, fractions)
        if self.model.config.renderer == "warp":  # a warp cannot reveal an eye the photo hides, nor fold lips
            points = warpable_targets(points68, points)
        if self.prior_only:  # the ablation: stage I's points moving the pixels, nothing learned in stage II
            flow, _ = prior_flow(points68, points, crops.shape[-1])
            rendering = {
                "image": warp(crops, flow, mode="bicubic").clamp(-1, 1),
                "flow": flow,
                "mask": flow.new_zeros(flow.shape[:3]),
                "colours": crops,
            }
        else:
            amount = None if (fractions == 1).all() else fractions
            _, rendering = self.model.render(crops, points, labels, points68, amount=amount)
        return EditResult(
            images=rendering["image"],
            points68=points,
            flow=rendering.get("flow"),
            mask=rendering.get("mask"),
            colours=rendering.get("colours"),
        )

    def _stage_one(self, crops, points68, labels, expressions: list[str], levels: list[int]) -> torch.Tensor:
        """G_l's points for the requests; a G_l on the fitted base is given the fitted 3D model's."""
        if self.model.config.landmark_base != "fitted":
            return self.model.g_l(crops, labels)
        return self.model.g_l(crops, labels, fitted_target_points(points68, expressions, levels))

    def _anchored(self, crops: torch.Tensor, points68: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
        """G_l's `generated` points less its error on each face where the face is neutral."""
        batch = len(crops)
        neutral = ["neutral"] * batch
        own_neutral = self._stage_one(
            crops, points68, self.model.encode_labels(neutral), neutral, [PAPER_LEVELS] * batch
        )
        return anchored_points(generated, own_neutral, resting_neutral_points(points68), points68, crops.shape[-1])

    def _blend_towards_neutral(self, labels: torch.Tensor, fractions: torch.Tensor) -> torch.Tensor:
        """G_e's labels for partial edits: a * label + (1 - a) * neutral's label, per sample."""
        if "neutral" not in self.expressions:
            return labels
        neutral = self.model.encode_labels(["neutral"]).to(labels.dtype)
        return neutral + fractions[:, None] * (labels - neutral)


def fitted_target_points(
    points68: torch.Tensor, expressions: list[str], levels: list[int], aus: dict | None = None
) -> torch.Tensor:
    """(B, 68, 2): each face's target points from ICT-FaceKit fitted to its points, with its own
    expression replaced by `expression` at `level` (plus an AU mix)."""
    from lgan_cli.geometry.fit import fit_face
    from lgan_cli.geometry.transfer import transfer

    targets = [
        transfer(fit_face(points.astype(np.float64)), expression, level, aus=aus or None)
        for points, expression, level in zip(points68.detach().cpu().numpy(), expressions, levels)
    ]
    return torch.from_numpy(np.stack(targets).astype(np.float32)).to(points68.device)


def crops_as_delivered(editor: Editor, result: EditResult, crops: torch.Tensor, points68: torch.Tensor) -> torch.Tensor:
    """(B, 3, S, S): `editor`'s edit of `crops` as a user gets it. The rendering itself, except that
    an editor with the "face-model" mouth gets it drawn in at the crops' resolution
    (`lips.draw_face_model_mouth`, as `compose` draws it in the photo), and one with "face-model"
    shading gets the skin's change of light (`expression_shading.shade_expression`, as `compose`
    shades the photo); pixels neither draws keep their exact values. Not part of `edit`: the photo
    path draws both at the photo's own resolution and would pay for these (about 50 ms a face) for
    nothing."""
    mouth = getattr(editor, "mouth_interior", "learned") == "face-model"
    shading = getattr(editor, "shading", "none") == "face-model"
    if not (mouth or shading) or result.points68 is None:
        return result.images
    from lgan_cli.faces.expression_shading import shade_expression
    from lgan_cli.faces.lips import draw_face_model_mouth
    from lgan_cli.pixels import to_pictures, to_tensor

    def delivered(image, crop, source, target):
        image = draw_face_model_mouth(image, crop, source, target) if mouth else image
        return shade_expression(image, source, target) if shading else image

    rendered = to_pictures(result.images.detach())
    drawn = [
        delivered(image, crop, source, target)
        for image, crop, source, target in zip(
            rendered,
            to_pictures(crops.detach()),
            points68.detach().cpu().numpy(),
            result.points68.detach().cpu().numpy(),
        )
    ]
    change = to_tensor(np.stack(drawn)) - to_tensor(rendered)
    return result.images + change.to(device=result.images.device, dtype=result.images.dtype)


def resting_neutral_points(points68: torch.Tensor) -> torch.Tensor:
    """(B, 68, 2): each face's points with only the expression beyond a neutral face's own removed
    (ICT-FaceKit fitted to them; `geometry.resting`)."""
    from lgan_cli.geometry.fit import fit_face
    from lgan_cli.geometry.transfer import neutralise

    neutral = [
        neutralise(fit_face(points.astype(np.float64)), keep_resting=True) for points in points68.detach().cpu().numpy()
    ]
    return torch.from_numpy(np.stack(neutral).astype(np.float32)).to(points68.device)


def action_unit_motion(points68: torch.Tensor, aus: dict) -> torch.Tensor:
    """(B, 68, 2): how an AU mix moves each face's points, from ICT-FaceKit fitted to them."""
    from lgan_cli.geometry.fit import fit_face
    from lgan_cli.geometry.transfer import transfer

    motions = []
    for points in points68.detach().cpu().numpy().astype(np.float64):
        fit = fit_face(points)
        motions.append(transfer(fit, aus=aus, neutralise=False) - fit.points)
    return torch.from_numpy(np.stack(motions).astype(np.float32)).to(points68.device)


def label_and_fraction(value: int | float | None, levels: int) -> tuple[int | None, float]:
    """(intensity label for G_l/G_e or None, landmark-displacement fraction) for one request."""
    if value is None:
        return None, 1.0
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= PAPER_LEVELS:
            raise ValueError(f"intensity level must be 1..{PAPER_LEVELS}, got {value}")
        if levels:
            return min(value, levels), 1.0
        return None, value / PAPER_LEVELS
    fraction = float(value)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"intensity fraction must be in (0, 1], got {value}")
    return (levels or None), fraction
