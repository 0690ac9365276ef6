"""Stage II as warp + synthesis: G_e moves the input's own pixels and paints only what is new.

The paper's G_e re-renders the whole face crop, and a 128-256 px face stretched over a large
photo is a blurred, smeared face whatever the crop metrics say. This renderer keeps the
photograph: a prior flow carries the source landmarks to G_l's generated ones (a thin-plate
spline, `lgan_cli.models.flow`), and a U-Net, seeing the crop, the paper's landmark image, the
labels and the prior-warped crop, predicts

- a residual flow (smooth: predicted at 1/8 of the crop's resolution and upsampled; it acts only
  where the prior moves the face, `MOTION_GATE`, and fades where it would magnify the photo far
  more than the prior does, `flow.limit_stretch`; with `residual_region="face"` only inside the
  face's outline),
- a synthesis mask m in [0, 1] (where something the photo does not contain must appear:
  teeth, the mouth's interior, creases), learned inside the face outline or, with
  `synthesis_region="mouth"`, fixed by the points: where the target's mouth opens and the warp
  brings no mouth interior of the source's, and
- colours c for those places.

Crop-level output: m * c + (1 - m) * warp(crop, prior + residual). Flows vanish outside the face
window, the mask outside the face's own outline (`synthesis_window`). At edit time the same flow
is lifted to the photo's resolution and the ORIGINAL photo is resampled once
(`lgan_cli.faces.compose`); only m * c comes from the crop.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lgan_cli.models.blocks import UNetDecoder, UNetEncoder, init_weights
from lgan_cli.models.config import ModelConfig
from lgan_cli.models.flow import (
    limit_stretch,
    opened_mouth_mask,
    prior_flow,
    synthesis_window,
    warp,
    without_opposition,
)

RESIDUAL_POOL = 8
"""The residual flow is averaged over 8 x 8 crop pixels and upsampled: a smooth correction, not
a per-pixel displacement field that could tear the photo."""

MOTION_GATE = 0.5
"""The residual flow acts where the landmark-driven prior moves the face by at least this many
crop pixels, fading in below: it corrects the requested motion and never invents motion of its
own, so a request that moves no landmark (a smile asked of a smiling face) changes nothing."""

MASK_START = -2.0
"""Bias of the mask channel at initialisation: m starts near 0.02, so training starts from the
pure warp and synthesises only where the losses ask for it."""


class WarpExpressionGenerator(nn.Module):
    """G_e of the warp renderer: [crop, landmark image, label maps, prior-warped crop] -> flow, mask, colours."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.uses_labels = config.labels in ("ge", "both")
        self.max_residual = config.max_residual_flow * config.resolution
        self.synthesis = config.synthesis
        self.residual_keeps_motion = config.residual_keeps_motion
        self.colour_smoothing = config.colour_smoothing
        self.synthesis_region = config.synthesis_region
        self.residual_region = config.residual_region
        in_channels = 9 + (config.label_channels if self.uses_labels else 0)
        self.encoder = UNetEncoder(in_channels, config.resolution, config.generator_width, config.max_width_multiplier)
        self.decoder = UNetDecoder(self.encoder.widths, 6)  # residual flow (2), mask (1), colours (3)
        init_weights(self)
        with torch.no_grad():
            head = self.decoder.head[1]
            head.weight[:, :2].zero_()  # the residual flow starts at exactly zero
            head.bias[2] = MASK_START

    def forward(
        self,
        image: torch.Tensor,
        landmark_image: torch.Tensor,
        labels: torch.Tensor,
        source_points: torch.Tensor,
        target_points: torch.Tensor,
        amount: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Everything the losses and the compositor need, as a dict of tensors.

        `amount` (B,) in [0, 1] scales the residual flow and the mask (the prior is already
        scaled by the caller moving the target points): 0 returns the input untouched.
        """
        size = image.shape[-1]
        prior, window = prior_flow(source_points, target_points, size)
        prior_warped = warp(image, prior)
        inputs = [image, landmark_image, prior_warped]
        if self.uses_labels:
            inputs.append(labels[:, :, None, None].expand(-1, -1, size, size).to(image.dtype))
        raw = self.decoder(self.encoder(torch.cat(inputs, dim=1))).float()
        residual = F.avg_pool2d(raw[:, :2] * self.max_residual, RESIDUAL_POOL)
        residual = F.interpolate(residual, size=(size, size), mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
        gate = (prior.norm(dim=-1) / MOTION_GATE).clamp(max=1.0)
        if amount is not None:
            residual = residual * amount[:, None, None, None]
        face = synthesis_window(source_points, target_points, size)
        if self.residual_region == "face":
            window = window * face
        residual = residual * (window * gate)[..., None]
        if self.residual_keeps_motion:
            residual = without_opposition(residual, prior)
        residual = limit_stretch(residual, prior, RESIDUAL_POOL)
        flow = prior + residual
        if not self.synthesis:  # the learned flow alone: every output pixel is a moved input pixel
            mask = torch.zeros_like(window)
        elif self.synthesis_region == "mouth":  # the target points (already scaled by intensity) say where
            mask = opened_mouth_mask(source_points, target_points, flow)
        else:
            mask = (raw[:, 2] + 1) * 0.5 * face
            if amount is not None:
                mask = mask * amount[:, None, None]
        colours = gaussian_blur(raw[:, 3:], self.colour_smoothing)
        warped = warp(image.float(), flow, mode="bicubic").clamp(-1, 1)
        output = mask[:, None] * colours + (1 - mask[:, None]) * warped
        return {"image": output, "flow": flow, "residual_flow": residual, "mask": mask, "colours": colours}


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """(B, C, H, W) images blurred by a separable Gaussian of `sigma` pixels (0: unchanged).

    Used on the synthesised colours: G_e's per-pixel colour noise, invisible in a 128 px crop,
    becomes coloured blotches when a mouth is magnified ten times onto a photo; the teeth and the
    cavity are several crop pixels wide, so a one-pixel blur removes the noise and keeps them.
    """
    if sigma <= 0:
        return images
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    padded = F.pad(images, (radius, radius, radius, radius), mode="replicate")
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(rows, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
