"""The model's architecture settings, saved inside every checkpoint's config.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from lgan_cli.data.records import RAFD_EXPRESSIONS
from lgan_cli.models.blocks import check_size

LABEL_TARGETS = ("gl", "ge", "both")
RENDERERS = ("warp", "unet")
"""Stage II: "warp" moves the input's pixels and synthesises only what is new
(`lgan_cli.models.warp_renderer`); "unet" is the paper's G_e, re-rendering the whole crop."""

SYNTHESIS_REGIONS = ("face", "mouth")
"""Where the warp renderer may paint: "face", a learned mask inside the face outline; "mouth", only
where the target's mouth opens beyond what the warp carries (`flow.opened_mouth_mask`), with
learned colours (teeth, the cavity): a mask no discriminator can bend into streaks."""

MOUTH_INTERIORS = ("learned", "face-model")
"""What fills an opened mouth in the photo: "learned", G_e's colours (m * c) magnified from the
crop; "face-model", the fitted 3D model's teeth, gums and cavity drawn at the photo's own
resolution inside the target inner lips (`lgan_cli.faces.mouth_interior`). An inference
setting: it changes no weights."""

SHADINGS = ("none", "face-model")
"""The light an expression changes on the skin, at the photo: "none", the warp's moved pixels as
they are; "face-model", the fitted 3D model's change of light from the source's to the target's
expression multiplies them (`lgan_cli.faces.expression_shading`: a smile's folds and cheeks). An
inference setting: it changes no weights."""

TARGET_POINTS = ("generated", "anchored")
"""Stage I's points as stage II receives them: "generated", G_l's as they come (the paper);
"anchored", the same with G_l's own error on this face taken out where the face is neutral
(`lgan_cli.models.anchoring`; needs the "neutral" label). An inference setting: it changes no weights."""

RESIDUAL_REGIONS = ("window", "face")
"""Where the warp renderer's learned residual flow may act: "window", the whole face window the
prior flow lives in (hair, ears and neck included); "face", only inside the face's own outline
(`flow.synthesis_window`). Outside the outline the residual learns the training pairs' own head
pose, which no edit of a new face can know (`lgan_cli.models.warp_renderer`)."""

LANDMARK_BASES = ("mean", "fitted")
"""What G_l's PDM coefficients are added to: "mean", the point distribution model's mean shape (the
paper: G_l regresses the whole shape from the image); "fitted", the fitted 3D face model's target
points for the request (`editor.fitted_target_points`), so G_l predicts a correction to the
geometry the 3D model gives every expression. Not an inference switch: G_l is trained for one."""

LEGACY_RENDERER = "unet"
"""The renderer of checkpoints written before there was a choice (their config names none)."""


@dataclass(frozen=True)
class ModelConfig:
    """Paper defaults (Sec. III); sizes chosen per dataset and machine."""

    resolution: int = 128
    expressions: tuple[str, ...] = RAFD_EXPRESSIONS
    intensity_levels: int = 0  # 0: no intensity labels; 4 for BU-3DFE-style levels (Eq. 10)
    generator_width: int = 64  # channels of the first U-Net layer (pix2pix ngf)
    discriminator_width: int = 64  # pix2pix ndf
    max_width_multiplier: int = 8
    pdm_components: int = 24
    label_embedding: int = 64  # width of G_l's fully connected label layer
    landmark_radius_at_256: float = 4.0  # S_l
    landmark_softness: float = 0.5  # edge width (px) of the differentiable discs
    soft_crops: bool = True  # False: black dots instead of image-coloured discs (ablation)
    labels: str = "both"  # which generators get the expression label: gl, ge or both
    discriminator_layers: tuple[int, ...] = (3, 2)  # dual PatchGANs: 70x70 and 34x34 receptive fields
    renderer: str = "warp"  # stage II: RENDERERS
    max_residual_flow: float = 0.04  # warp renderer: largest learned flow correction, fraction of the crop side
    synthesis: bool = True  # warp renderer: use the synthesis mask and colours (False: the learned flow alone)
    synthesis_region: str = "face"  # warp renderer: SYNTHESIS_REGIONS
    residual_region: str = "window"  # warp renderer: RESIDUAL_REGIONS
    residual_keeps_motion: bool = False  # warp renderer: the learned flow may not cancel the prior (without_opposition)
    colour_smoothing: float = 0.0  # warp renderer: Gaussian sigma (crop px) on the synthesised colours
    mouth_interior: str = "learned"  # warp renderer, at the photo: MOUTH_INTERIORS
    shading: str = "none"  # warp renderer, at the photo: SHADINGS
    target_points: str = "generated"  # stage I at inference: TARGET_POINTS
    landmark_base: str = "mean"  # G_l's output: LANDMARK_BASES

    def __post_init__(self) -> None:
        check_size(self.resolution)
        if self.labels not in LABEL_TARGETS:
            raise ValueError(f"labels must be one of {LABEL_TARGETS}, got {self.labels!r}")
        if self.renderer not in RENDERERS:
            raise ValueError(f"renderer must be one of {RENDERERS}, got {self.renderer!r}")
        if not 0.0 <= self.colour_smoothing <= 4.0:
            raise ValueError(f"colour_smoothing must be a blur of 0..4 crop pixels, got {self.colour_smoothing}")
        if self.mouth_interior not in MOUTH_INTERIORS:
            raise ValueError(f"mouth_interior must be one of {MOUTH_INTERIORS}, got {self.mouth_interior!r}")
        if self.shading not in SHADINGS:
            raise ValueError(f"shading must be one of {SHADINGS}, got {self.shading!r}")
        if self.target_points not in TARGET_POINTS:
            raise ValueError(f"target_points must be one of {TARGET_POINTS}, got {self.target_points!r}")
        if self.target_points == "anchored" and "neutral" not in self.expressions:
            raise ValueError("target_points 'anchored' needs a model that knows the 'neutral' expression")
        if self.landmark_base not in LANDMARK_BASES:
            raise ValueError(f"landmark_base must be one of {LANDMARK_BASES}, got {self.landmark_base!r}")
        if self.synthesis_region not in SYNTHESIS_REGIONS:
            raise ValueError(f"synthesis_region must be one of {SYNTHESIS_REGIONS}, got {self.synthesis_region!r}")
        if self.residual_region not in RESIDUAL_REGIONS:
            raise ValueError(f"residual_region must be one of {RESIDUAL_REGIONS}, got {self.residual_region!r}")
        if len(set(self.expressions)) != len(self.expressions) or not self.expressions:
            raise ValueError("expressions must be a non-empty list of distinct names")
        object.__setattr__(self, "expressions", tuple(self.expressions))
        object.__setattr__(self, "discriminator_layers", tuple(self.discriminator_layers))

    @property
    def label_channels(self) -> int:
        return len(self.expressions) + self.intensity_levels

    @property
    def landmark_radius(self) -> float:
        return self.landmark_radius_at_256 * self.resolution / 256

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model settings: {', '.join(sorted(unknown))}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def with_legacy_renderer(data: object) -> object:
    """The settings of a saved model or run: one saved before renderers existed has the U-Net."""
    if isinstance(data, dict) and "renderer" not in data:
        return {**data, "renderer": LEGACY_RENDERER}
    return data
