"""LandmarkGAN's two generators (paper Sec. III-A, III-B) and their two-stage composition.

Stage I, G_l: crop + expression label -> 68 target landmarks (U-Net encoder, label joined at
the bottleneck through a fully connected layer, PDM decoder) -> landmark image: discs
coloured from the input crop (differentiable, so stage II's losses train G_l too).
Stage II, G_e, one of two renderers (`ModelConfig.renderer`): the paper's U-Net, crop + landmark
image (+ label maps) -> the face with the target expression; or the warp renderer
(`lgan_cli.models.warp_renderer`), which moves the crop's own pixels and synthesises only what is
new. Both return a dict whose "image" is the edited crop.
"""

from __future__ import annotations

import torch
from torch import nn

from lgan_cli.faces.landmark_image import sample_colours_torch, soft_landmark_image
from lgan_cli.models.blocks import UNetDecoder, UNetEncoder, init_weights
from lgan_cli.models.config import ModelConfig
from lgan_cli.models.pdm import PDMDecoder
from lgan_cli.models.warp_renderer import WarpExpressionGenerator

HEAD_WIDTH = 256


class LandmarkGenerator(nn.Module):
    """G_l: image (+ label) -> 68 points in crop pixels, through PDM coefficients: a displacement
    of the PDM's mean shape (the paper), or with `landmark_base: fitted` of the fitted 3D face
    model's target points for the request, which it then also takes as input."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.on_fitted = config.landmark_base == "fitted"
        self.uses_labels = config.labels in ("gl", "both")
        self.encoder = UNetEncoder(3, config.resolution, config.generator_width, config.max_width_multiplier)
        embedding = config.label_embedding if self.uses_labels else 0
        self.label_fc = (
            nn.Sequential(nn.Linear(config.label_channels, embedding), nn.ReLU()) if self.uses_labels else None
        )
        self.head = nn.Sequential(
            nn.LeakyReLU(0.2),
            nn.Linear(self.encoder.widths[-1] + embedding, HEAD_WIDTH),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(HEAD_WIDTH, config.pdm_components),
        )
        self.pdm = PDMDecoder(config.pdm_components)
        init_weights(self)
        nn.init.zeros_(self.head[-1].weight)  # start from the mean shape (or the fitted points)

    def forward(self, image: torch.Tensor, labels: torch.Tensor, fitted: torch.Tensor | None = None) -> torch.Tensor:
        """`fitted` (B, 68, 2): the fitted 3D model's target points for each request, which a G_l
        on the fitted base corrects (ignored by one on the mean shape)."""
        if self.on_fitted and fitted is None:
            raise ValueError("this G_l corrects the fitted 3D face model's target points: pass them (fitted=...)")
        features = self.encoder(image)[-1].flatten(1)
        if self.label_fc is not None:
            features = torch.cat([features, self.label_fc(labels)], dim=1)
        return self.pdm(self.head(features), base=fitted if self.on_fitted else None)


class ExpressionGenerator(nn.Module):
    """G_e: [crop, landmark image, label maps] -> face (a U-Net, Tanh output in [-1, 1])."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.uses_labels = config.labels in ("ge", "both")
        in_channels = 6 + (config.label_channels if self.uses_labels else 0)
        self.encoder = UNetEncoder(in_channels, config.resolution, config.generator_width, config.max_width_multiplier)
        self.decoder = UNetDecoder(self.encoder.widths, 3)
        init_weights(self)

    def forward(
        self, image: torch.Tensor, landmark_image: torch.Tensor, labels: torch.Tensor, *_points, amount=None
    ) -> dict[str, torch.Tensor]:
        """The paper's G_e sees no source points, and intensity reaches it only through the
        (scaled) target points and the blended labels: `amount` is not used."""
        inputs = [image, landmark_image]
        if self.uses_labels:
            inputs.append(labels[:, :, None, None].expand(-1, -1, *image.shape[-2:]))
        return {"image": self.decoder(self.encoder(torch.cat(inputs, dim=1)))}


class LandmarkGAN(nn.Module):
    """The two generators end to end: what an inference checkpoint holds."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.g_l = LandmarkGenerator(config)
        self.g_e = WarpExpressionGenerator(config) if config.renderer == "warp" else ExpressionGenerator(config)

    def landmark_image(self, image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Paper Sec. III-A: discs of radius S_l coloured from the input crop (or black dots).

        Always rendered in float32 (also under mixed precision): the soft coverage uses log/exp.
        """
        with torch.autocast(device_type=image.device.type, enabled=False):
            image, points = image.float(), points.float()
            colours = sample_colours_torch(image, points) if self.config.soft_crops else None
            return soft_landmark_image(
                points, self.config.resolution, colours, self.config.landmark_radius, self.config.landmark_softness
            )

    def forward(
        self,
        image: torch.Tensor,
        labels: torch.Tensor,
        source_points: torch.Tensor,
        fitted_points: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(generated points, landmark image, generated face) from crops and their own 68 points
        (and the fitted 3D model's target points, for a G_l on the fitted base)."""
        points = self.g_l(image, labels, fitted_points)
        landmarks, rendering = self.render(image, points, labels, source_points)
        return points, landmarks, rendering["image"]

    def render(
        self,
        image: torch.Tensor,
        points: torch.Tensor,
        labels: torch.Tensor,
        source_points: torch.Tensor,
        amount: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Stage II alone from given target points: (landmark image, the renderer's outputs)."""
        landmarks = self.landmark_image(image, points)
        return landmarks, self.g_e(image, landmarks, labels, source_points, points, amount=amount)

    def encode_labels(self, expressions: list[str], intensities: list[int | None] | None = None) -> torch.Tensor:
        """One-hot expression (+ one-hot intensity level, Eq. 10) per sample."""
        return encode_labels(self.config, expressions, intensities, device=self.g_l.head[-1].weight.device)


def encode_labels(
    config: ModelConfig, expressions: list[str], intensities: list[int | None] | None = None, device=None
) -> torch.Tensor:
    labels = torch.zeros(len(expressions), config.label_channels, device=device)
    for row, name in enumerate(expressions):
        labels[row, config.expressions.index(name)] = 1.0
    if config.intensity_levels:
        for row, (name, level) in enumerate(zip(expressions, intensities or [None] * len(expressions))):
            if name == "neutral":  # neutral has no intensity: all zeros
                continue
            if level is None:  # no level given (a photo set without levels, a default request): the full expression
                level = config.intensity_levels
            if not 1 <= level <= config.intensity_levels:
                raise ValueError(f"intensity level must be 1..{config.intensity_levels}, got {level}")
            labels[row, len(config.expressions) + level - 1] = 1.0
    return labels
