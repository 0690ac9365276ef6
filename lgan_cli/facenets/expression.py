"""Facial-expression classifier: face-api's FaceExpressionNet, in plain torch.

face-api (`@vladmandic/face-api`, MIT, from face-api.js) classifies a face into 7 classes,
EXPRESSION_CLASSES. The net (faceExpressionNet/, faceFeatureExtractor/ in the package):

    112x112 RGB, (x - [122.782, 117.001, 104.298]) / 255          # same as the identity net
    4 dense blocks, each halving the size (112 -> 56 -> 28 -> 14 -> 7), 32/64/128/256 channels:
        out1 = relu(conv0(x))   stride 2; a plain 3x3 conv in the first block,
                                a depthwise-separable one (3x3 depthwise + 1x1 pointwise) after
        out2 = sep1(out1); out3 = sep2(relu(out1 + out2)); out4 = sep3(relu(out1 + out2 + out3))
        block = relu(out1 + out2 + out3 + out4)                  # stride 1, 3x3 depthwise
    avg pool 7x7 'valid' (the whole 7x7 map) -> fc 256 -> 7 -> softmax

All convs use TF 'SAME' padding, which for a stride-2 3x3 conv on an even size pads only the
bottom and right (0 before, 1 after); `tf_same_pad` does that explicitly. The separable convs
carry one bias, after the pointwise step; the net has no batch norm.

face-api feeds it the face box from the 68 landmarks (their bounding box grown by 10% on
every side, `FaceLandmarks.align()`), cut axis-aligned from the photo, zero-padded to a
square (centred) and resized to 112x112; `expression_input_from_crop` does the same from our
crops and points.

Mapping to the project's (RaFD) expression names, `DATASET_TO_CLASS`: the seven shared names
map to themselves; "contemptuous" has no face-api class (None), so contempt cannot be scored
by this net: callers must skip it (e.g. in an expression-accuracy metric).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from lgan_cli.facenets.identity import MEAN_RGB, sample_affine
from lgan_cli.facenets.tfjs_weights import TfjsParams, load_frozen
from lgan_cli.pixels import pixel_values

WEIGHTS_NAME = "faceapi_expression.safetensors"
WEIGHTS_SHA256 = "d066e977ded30c81d568456ff7f9246c37709d189a9a7082bfa4aa414ddaf3bd"

INPUT_SIZE = 112
BOX_PADDING = 0.2  # face-api's minBoxPadding: the landmark box grows by 20% of its size (10% a side)
EXPRESSION_CLASSES: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
DATASET_TO_CLASS: dict[str, str | None] = {
    "neutral": "neutral",
    "happy": "happy",
    "sad": "sad",
    "angry": "angry",
    "fearful": "fearful",
    "disgusted": "disgusted",
    "surprised": "surprised",
    "contemptuous": None,  # face-api has no contempt class
}
CHANNELS = (32, 64, 128, 256)


def tf_same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero-pad (B, C, H, W) as TF's 'SAME' does: total ceil-to-stride padding, the odd pixel after."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):  # F.pad wants the last dimension first
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


def _frozen(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.zeros(*shape), requires_grad=False)


class Conv(nn.Module):
    """A plain 3x3 conv with bias, TF 'SAME' padding (the first layer of the first block)."""

    def __init__(self, channels_in: int, channels_out: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.weight = _frozen(channels_out, channels_in, 3, 3)
        self.bias = _frozen(channels_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(tf_same_pad(x, 3, self.stride), self.weight, self.bias, stride=self.stride)

    def load_tfjs(self, params: TfjsParams, prefix: str) -> None:
        out_c, in_c = self.weight.shape[:2]
        self.weight.copy_(params.take(f"{prefix}/filters", (3, 3, in_c, out_c)).permute(3, 2, 0, 1))
        self.bias.copy_(params.take(f"{prefix}/bias", (out_c,)))


class SeparableConv(nn.Module):
    """TF's separableConv2d: 3x3 depthwise (strided, 'SAME'), 1x1 pointwise, then one bias."""

    def __init__(self, channels_in: int, channels_out: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.depthwise = _frozen(channels_in, 1, 3, 3)
        self.pointwise = _frozen(channels_out, channels_in, 1, 1)
        self.bias = _frozen(channels_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(tf_same_pad(x, 3, self.stride), self.depthwise, stride=self.stride, groups=x.shape[1])
        return F.conv2d(out, self.pointwise, self.bias)

    def load_tfjs(self, params: TfjsParams, prefix: str) -> None:
        out_c, in_c = self.pointwise.shape[:2]
        self.depthwise.copy_(params.take(f"{prefix}/depthwise_filter", (3, 3, in_c, 1)).permute(2, 3, 0, 1))
        self.pointwise.copy_(params.take(f"{prefix}/pointwise_filter", (1, 1, in_c, out_c)).permute(3, 2, 0, 1))
        self.bias.copy_(params.take(f"{prefix}/bias", (out_c,)))


class DenseBlock(nn.Module):
    """face-api's denseBlock4: a strided first conv, then three separable convs on running sums."""

    def __init__(self, channels_in: int, channels_out: int, first: bool) -> None:
        super().__init__()
        self.conv0 = Conv(channels_in, channels_out, 2) if first else SeparableConv(channels_in, channels_out, 2)
        self.conv1 = SeparableConv(channels_out, channels_out, 1)
        self.conv2 = SeparableConv(channels_out, channels_out, 1)
        self.conv3 = SeparableConv(channels_out, channels_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = F.relu(self.conv0(x))
        out2 = self.conv1(out1)
        out3 = self.conv2(F.relu(out1 + out2))
        out4 = self.conv3(F.relu(out1 + out2 + out3))
        return F.relu(out1 + out2 + out3 + out4)

    def load_tfjs(self, params: TfjsParams, prefix: str) -> None:
        for name in ("conv0", "conv1", "conv2", "conv3"):
            getattr(self, name).load_tfjs(params, f"{prefix}/{name}")


class ExpressionNet(nn.Module):
    """face-api's expression classifier; frozen, differentiable w.r.t. its input.

    forward(images): images (B, 3, 112, 112), float RGB in [0, 255], framed like face-api's
    face boxes (see `expression_input_from_crop`); returns (B, 7) LOGITS in EXPRESSION_CLASSES
    order. face-api reports softmax probabilities: use `probabilities()` for those, and the
    logits for a cross-entropy loss.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean_rgb", torch.tensor(MEAN_RGB).view(1, 3, 1, 1), persistent=False)
        sizes = (3, *CHANNELS)
        self.blocks = nn.ModuleList(DenseBlock(sizes[i], sizes[i + 1], first=i == 0) for i in range(len(CHANNELS)))
        self.fc_weight = _frozen(CHANNELS[-1], len(EXPRESSION_CLASSES))  # TF layout: (in, out)
        self.fc_bias = _frozen(len(EXPRESSION_CLASSES))
        self.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or tuple(images.shape[1:]) != (3, INPUT_SIZE, INPUT_SIZE):
            raise ValueError(
                f"ExpressionNet expects (B, 3, {INPUT_SIZE}, {INPUT_SIZE}) images, got {tuple(images.shape)}"
            )
        out = (images - self.mean_rgb) / 255.0
        for block in self.blocks:
            out = block(out)
        pooled = F.avg_pool2d(out, 7, 2)  # 7x7 -> 1x1, face-api's 'valid' 7x7 pool
        return pooled.flatten(1) @ self.fc_weight + self.fc_bias

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 7) softmax probabilities, what face-api's predictExpressions reports."""
        return torch.softmax(self(images), dim=1)

    def train(self, mode: bool = True) -> ExpressionNet:
        """Always stays in eval mode: the net is a frozen reference (it has no dropout or BN anyway)."""
        return super().train(False)

    @torch.no_grad()
    def load_tfjs(self, tensors: dict[str, torch.Tensor]) -> None:
        """Take face-api's dequantised TF.js tensors (names and layouts as in its manifest)."""
        params = TfjsParams(tensors)
        for index, block in enumerate(self.blocks):
            block.load_tfjs(params, f"dense{index}")
        self.fc_weight.copy_(params.take("fc/weights", (CHANNELS[-1], len(EXPRESSION_CLASSES))))
        self.fc_bias.copy_(params.take("fc/bias", (len(EXPRESSION_CLASSES),)))
        params.check_all_used()


def load_expression_net(
    device: torch.device | str = "cpu", path: str | os.PathLike[str] | None = None
) -> ExpressionNet:
    """The frozen expression net on `device`, from weights/faceapi_expression.safetensors (sha256-checked)."""
    return load_frozen(ExpressionNet(), WEIGHTS_NAME, WEIGHTS_SHA256, path, device)


def expression_input_from_crop(crops: torch.Tensor, points68: torch.Tensor) -> torch.Tensor:
    """ExpressionNet's input from face crops: (B, 3, 112, 112) RGB in [0, 255].

    crops: (B, 3, S, S) RGB in [-1, 1]; points68: (B, 68, 2) in crop pixels (pixel centres
    at integers). As face-api: the points' bounding box grown by 10% a side, centred in a
    square whose extra width or height is black (face-api's padToSquare), scaled to 112x112;
    parts outside the crop are black too (face-api clips the box to the photo). Bilinear
    sampling uses half-pixel centres (TF.js's resizeBilinear here uses the legacy corner
    mapping, a sub-pixel difference). Differentiable with respect to the crops.
    """
    if crops.ndim != 4 or crops.shape[1] != 3 or points68.shape[1:] != (68, 2) or points68.shape[0] != crops.shape[0]:
        raise ValueError(
            f"need crops (B, 3, S, S) and points (B, 68, 2), got {tuple(crops.shape)}, {tuple(points68.shape)}"
        )
    points = points68.detach().to(crops.device, torch.float32)
    low, high = points.amin(dim=1), points.amax(dim=1)  # (B, 2) in pixel-centre coordinates
    # box edges in edge coordinates (a pixel spans [x - 0.5, x + 0.5]), grown by 10% a side
    box_low, box_size = low + 0.5, high - low
    box_low = box_low - box_size * BOX_PADDING / 2
    box_size = box_size * (1 + BOX_PADDING)
    side = box_size.max(dim=1).values
    square_low = box_low - (side[:, None] - box_size) / 2
    scale = INPUT_SIZE / side  # output px per crop px
    zeros = torch.zeros_like(scale)
    # crop edge coordinate e maps to output edge coordinate (e - square_low) * scale; pixel centres are edges - 0.5
    crop_to_out = torch.stack(
        [
            torch.stack([scale, zeros, (0.5 - square_low[:, 0]) * scale - 0.5], -1),
            torch.stack([zeros, scale, (0.5 - square_low[:, 1]) * scale - 0.5], -1),
        ],
        dim=1,
    )
    images = sample_affine(pixel_values(crops), crop_to_out, INPUT_SIZE, padding_mode="zeros")
    # black outside the (grown) landmark box, as padToSquare leaves it
    edges = (
        torch.arange(INPUT_SIZE, device=crops.device, dtype=torch.float32) + 0.5
    )  # output pixel centres, edge coords
    inside = []
    for axis in (0, 1):
        lo = (box_low[:, axis] - square_low[:, axis]) * scale
        hi = lo + box_size[:, axis] * scale
        inside.append(((edges[None] >= lo[:, None]) & (edges[None] <= hi[:, None])).float())
    mask = (inside[1][:, :, None] * inside[0][:, None, :]).to(images.dtype)  # (B, H, W)
    return images * mask[:, None]
