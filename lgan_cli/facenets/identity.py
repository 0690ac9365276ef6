"""Identity descriptors: face-api's port of dlib's ResNet face-recognition net, in plain torch.

dlib's `dlib_face_recognition_resnet_model_v1` (Davis King, public domain) maps a 150x150
RGB "face chip" to a 128-D descriptor; two photos show the same person when their
descriptors are closer than about 0.6 (Euclidean). face-api (`@vladmandic/face-api`, MIT)
ships the same weights for TF.js; `IdentityNet` rebuilds face-api's FaceRecognitionNet op
for op, so its descriptors equal face-api's and match dlib's own (cosine > 0.999 on the same
chip, tests/test_facenets_faceapi.py). Descriptors are NOT unit length (dlib's have norm
~1.4-1.6 on the London photos, so the unit-sphere habit of other embeddings does not apply).

The architecture (faceRecognitionNet/*.ts in the package):

    (x - [122.782, 117.001, 104.298]) / 255            # face-api divides by 255, dlib by 256
    conv 7x7/2 'valid' -> affine -> relu -> maxpool 3x3/2 'valid'          150 -> 72 -> 35
    3 x residual(32); residual_down(64) + 3 x residual(64)                       35 -> 17
    residual_down(128) + 2 x residual(128)                                        17 -> 8
    residual_down(256) + 2 x residual(256) + residual_down(256) "conv256_down_out" 8 -> 4 -> 2
    mean over space -> matmul fc (256 x 128, no bias)

Every conv is followed by dlib's per-channel affine layer (its frozen batch norm: x * w + b).
A residual block is conv3x3 'same' -> relu -> conv3x3 'same', plus the input, then relu.
A down block's first conv is 3x3 stride 2 'valid' (dlib gives strided convs no padding) and its
shortcut is a 2x2 average pool, with zero channels appended when the width doubles. When the
two branches disagree in size (8 -> 3 vs 4, 4 -> 1 vs 2) the conv branch gets a zero row and
column at the bottom/right, as dlib's add_prev does: the last block thus averages a 2x2 map of
which three cells are pure shortcut.

`identity_chip_from_crop` makes the net's input from our aligned face crops and their 68 points,
framed like dlib's `get_face_chip(img, shape, size=150, padding=0.25)`, differentiably.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from lgan_cli.facenets.tfjs_weights import TfjsParams, load_frozen
from lgan_cli.pixels import pixel_values

WEIGHTS_NAME = "faceapi_recognition.safetensors"
WEIGHTS_SHA256 = "d7dc7a95e5b53cad82e86f77d29b5eab881c07292172e3c30bd03007db870435"

CHIP_SIZE = 150
MEAN_RGB = (122.782, 117.001, 104.298)
DESCRIPTOR_SIZE = 128
SAME_PERSON_DISTANCE = 0.6  # dlib's threshold on the Euclidean distance between descriptors

# Where dlib's get_face_chip(img, shape, size=150, padding=0.25) puts OUR 68 points (the
# MediaPipe-derived ones of lgan_cli.faces), inner 51 only (iBUG 17..67, brows to lips: like
# dlib we leave out the jaw line, the least stable part), in chip pixels with pixel centres at
# integers. Fitted on the London photos of odd ids (86 photos, neutral and smiling): dlib's
# exact chip transform (read off by chipping coordinate-ramp images) applied to our points,
# averaged (`fit_chip_template` in tests/test_facenets_faceapi.py; run that file to refit).
# A least-squares similarity from a face's points to this template then frames its chip like
# dlib's own: ~1.5 chip pixels RMS apart on the even-id photos.
CHIP_TEMPLATE_51: tuple[tuple[float, float], ...] = (
    (24.44, 34.33),
    (29.62, 29.20),
    (37.74, 26.22),
    (48.63, 26.53),
    (61.05, 28.20),
    (86.29, 28.28),
    (98.75, 26.62),
    (109.66, 26.33),
    (117.94, 29.35),
    (123.24, 34.50),
    (73.79, 43.38),
    (73.70, 55.61),
    (73.75, 60.88),
    (73.68, 73.48),
    (63.26, 81.91),
    (67.17, 84.59),
    (73.79, 84.85),
    (80.37, 84.54),
    (84.34, 81.85),
    (36.47, 46.61),
    (41.52, 42.91),
    (50.03, 42.38),
    (58.26, 48.52),
    (51.05, 49.34),
    (42.65, 49.51),
    (89.49, 48.69),
    (97.49, 42.63),
    (106.00, 43.20),
    (111.23, 46.88),
    (104.89, 49.67),
    (96.47, 49.52),
    (50.76, 102.72),
    (60.84, 97.74),
    (67.29, 96.02),
    (73.87, 97.29),
    (80.47, 95.98),
    (86.87, 97.70),
    (96.95, 102.58),
    (86.46, 110.41),
    (80.48, 112.24),
    (73.72, 112.79),
    (67.13, 112.24),
    (61.26, 110.47),
    (55.18, 103.88),
    (68.28, 102.41),
    (73.82, 102.69),
    (79.47, 102.48),
    (92.57, 103.76),
    (79.41, 104.33),
    (73.83, 104.55),
    (68.27, 104.18),
)
INNER_FIRST = 17  # CHIP_TEMPLATE_51[i] is iBUG point 17 + i

# (name, channels in, channels out, downsampling) in face-api's order
BLOCKS: tuple[tuple[str, int, int, bool], ...] = (
    ("conv32_1", 32, 32, False),
    ("conv32_2", 32, 32, False),
    ("conv32_3", 32, 32, False),
    ("conv64_down", 32, 64, True),
    ("conv64_1", 64, 64, False),
    ("conv64_2", 64, 64, False),
    ("conv64_3", 64, 64, False),
    ("conv128_down", 64, 128, True),
    ("conv128_1", 128, 128, False),
    ("conv128_2", 128, 128, False),
    ("conv256_down", 128, 256, True),
    ("conv256_1", 256, 256, False),
    ("conv256_2", 256, 256, False),
    ("conv256_down_out", 256, 256, True),
)


def _frozen(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.zeros(*shape), requires_grad=False)


class AffineConv(nn.Module):
    """A conv with bias followed by dlib's per-channel affine layer (x * weights + biases)."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        # stride 1: TF 'same' (symmetric for odd kernels); stride 2: 'valid', as in face-api
        self.padding = kernel // 2 if stride == 1 else 0
        self.weight = _frozen(channels_out, channels_in, kernel, kernel)
        self.bias = _frozen(channels_out)
        self.scale_weight = _frozen(channels_out)
        self.scale_bias = _frozen(channels_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)
        return out * self.scale_weight.view(1, -1, 1, 1) + self.scale_bias.view(1, -1, 1, 1)

    def load_tfjs(self, params: TfjsParams, prefix: str) -> None:
        out_c, in_c, k, _ = self.weight.shape
        filters = params.take(f"{prefix}/conv/filters", (k, k, in_c, out_c))
        self.weight.copy_(filters.permute(3, 2, 0, 1))  # HWIO -> OIHW
        self.bias.copy_(params.take(f"{prefix}/conv/bias", (out_c,)))
        self.scale_weight.copy_(params.take(f"{prefix}/scale/weights", (out_c,)))
        self.scale_bias.copy_(params.take(f"{prefix}/scale/biases", (out_c,)))


class ResidualBlock(nn.Module):
    """face-api's residual / residualDown layer (dlib's ares / ares_down)."""

    def __init__(self, channels_in: int, channels_out: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1 = AffineConv(channels_in, channels_out, 3, 2 if down else 1)
        self.conv2 = AffineConv(channels_out, channels_out, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        shortcut = x
        if self.down:
            shortcut = F.avg_pool2d(x, 2, 2)
            grow_h, grow_w = shortcut.shape[2] - out.shape[2], shortcut.shape[3] - out.shape[3]
            if grow_h or grow_w:
                out = F.pad(out, (0, grow_w, 0, grow_h))  # zeros at the bottom/right
            if shortcut.shape[1] != out.shape[1]:
                shortcut = torch.cat([shortcut, torch.zeros_like(shortcut)], dim=1)
        return F.relu(out + shortcut)

    def load_tfjs(self, params: TfjsParams, prefix: str) -> None:
        self.conv1.load_tfjs(params, f"{prefix}/conv1")
        self.conv2.load_tfjs(params, f"{prefix}/conv2")


class IdentityNet(nn.Module):
    """dlib's face descriptor net as ported by face-api; frozen, differentiable w.r.t. its input.

    forward(chips): chips (B, 3, 150, 150), float RGB in [0, 255] (uint8 pixel values), framed
    like dlib's face chips (see `identity_chip_from_crop`); returns (B, 128) descriptors,
    not normalised, comparable with dlib's by Euclidean distance (same person < ~0.6).
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean_rgb", torch.tensor(MEAN_RGB).view(1, 3, 1, 1), persistent=False)
        self.conv32_down = AffineConv(3, 32, 7, 2)
        self.blocks = nn.ModuleDict({name: ResidualBlock(c_in, c_out, down) for name, c_in, c_out, down in BLOCKS})
        self.fc = _frozen(256, DESCRIPTOR_SIZE)  # TF layout: (in, out)
        self.eval()

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        if chips.ndim != 4 or tuple(chips.shape[1:]) != (3, CHIP_SIZE, CHIP_SIZE):
            raise ValueError(f"IdentityNet expects (B, 3, {CHIP_SIZE}, {CHIP_SIZE}) chips, got {tuple(chips.shape)}")
        x = (chips - self.mean_rgb) / 255.0
        out = F.max_pool2d(F.relu(self.conv32_down(x)), 3, 2)
        for block in self.blocks.values():
            out = block(out)
        return out.mean(dim=(2, 3)) @ self.fc

    def train(self, mode: bool = True) -> IdentityNet:
        """Always stays in eval mode: the net is a frozen reference (it has no dropout or BN anyway)."""
        return super().train(False)

    @torch.no_grad()
    def load_tfjs(self, tensors: dict[str, torch.Tensor]) -> None:
        """Take face-api's dequantised TF.js tensors (names and layouts as in its manifest)."""
        params = TfjsParams(tensors)
        self.conv32_down.load_tfjs(params, "conv32_down")
        for name, block in self.blocks.items():
            block.load_tfjs(params, name)
        self.fc.copy_(params.take("fc", (256, DESCRIPTOR_SIZE)))
        params.check_all_used()


def load_identity_net(device: torch.device | str = "cpu", path: str | os.PathLike[str] | None = None) -> IdentityNet:
    """The frozen identity net on `device`, from weights/faceapi_recognition.safetensors (sha256-checked)."""
    return load_frozen(IdentityNet(), WEIGHTS_NAME, WEIGHTS_SHA256, path, device)


def similarity_to_template(points: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
    """(B, 2, 3) least-squares similarity matrices taking `points` (B, N, 2) onto `template` (N, 2).

    Closed form (rotation + uniform scale + translation, no reflection), the fit dlib's
    find_similarity_transform makes; differentiable with respect to the points.
    """
    template = template.to(points)
    src = points - points.mean(dim=1, keepdim=True)
    dst = template - template.mean(dim=0)
    norm = (src**2).sum(dim=(1, 2))
    a = (src * dst).sum(dim=(1, 2)) / norm
    b = (src[..., 0] * dst[..., 1] - src[..., 1] * dst[..., 0]).sum(dim=1) / norm
    rotation = torch.stack([torch.stack([a, -b], -1), torch.stack([b, a], -1)], -2)  # (B, 2, 2)
    translation = template.mean(dim=0) - (rotation @ points.mean(dim=1).unsqueeze(-1)).squeeze(-1)
    return torch.cat([rotation, translation.unsqueeze(-1)], dim=-1)


def _homogeneous(matrix: torch.Tensor) -> torch.Tensor:
    bottom = matrix.new_tensor([0.0, 0.0, 1.0]).expand(matrix.shape[0], 1, 3)
    return torch.cat([matrix, bottom], dim=1)


def sample_affine(
    images: torch.Tensor, image_to_out: torch.Tensor, size: int, padding_mode: str = "border"
) -> torch.Tensor:
    """Warp `images` (B, C, H, W) by the (B, 2, 3) pixel-coordinate maps `image_to_out` to size x size.

    Bilinear, differentiable with respect to the images and the matrices. Pixel centres sit at
    integer coordinates in both. When shrinking by 2x or more the images are first
    box-filtered by an integer factor (as `Alignment.crop` does) so the output does not alias;
    one factor serves the whole batch, set by its least-shrunk image. The geometry is done in
    float32 whatever the images' dtype.
    """
    height, width = images.shape[-2:]
    image_to_out = image_to_out.float()
    out_to_image = torch.linalg.inv(_homogeneous(image_to_out))
    scale = float(torch.sqrt(torch.abs(torch.linalg.det(image_to_out[:, :, :2].detach()))).max())  # out px per image px
    factor = int(1.0 / scale) if scale < 0.5 else 1
    if factor > 1:
        images = F.avg_pool2d(images, factor, factor)
        height, width = images.shape[-2:]
        shift = 0.5 / factor - 0.5  # image pixel x lands on pooled pixel (x + 0.5) / factor - 0.5
        shrink = image_to_out.new_tensor([[1 / factor, 0, shift], [0, 1 / factor, shift], [0, 0, 1]])
        out_to_image = shrink @ out_to_image
    # affine_grid works in [-1, 1] coordinates (align_corners=False: the image's outer edges)
    out_from_unit = image_to_out.new_tensor([[size / 2, 0, (size - 1) / 2], [0, size / 2, (size - 1) / 2], [0, 0, 1]])
    image_to_unit = image_to_out.new_tensor([[2 / width, 0, 1 / width - 1], [0, 2 / height, 1 / height - 1], [0, 0, 1]])
    theta = (image_to_unit @ out_to_image @ out_from_unit)[:, :2].to(images.dtype)
    grid = F.affine_grid(theta, [images.shape[0], images.shape[1], size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def identity_chip_from_crop(crops: torch.Tensor, points68: torch.Tensor) -> torch.Tensor:
    """IdentityNet's input from face crops: (B, 3, 150, 150) RGB in [0, 255].

    crops: (B, 3, S, S) RGB in [-1, 1] (our aligned crops, real or generated); points68:
    (B, 68, 2) their iBUG points in crop pixels (pixel centres at integers). The chip is
    framed like dlib's get_face_chip(img, shape, 150, padding=0.25): a least-squares
    similarity from the 51 inner points to CHIP_TEMPLATE_51, then a bilinear warp (edge
    pixels repeat outside the crop). Differentiable with respect to crops and points.
    """
    if crops.ndim != 4 or crops.shape[1] != 3 or points68.shape[1:] != (68, 2) or points68.shape[0] != crops.shape[0]:
        raise ValueError(
            f"need crops (B, 3, S, S) and points (B, 68, 2), got {tuple(crops.shape)}, {tuple(points68.shape)}"
        )
    template = torch.tensor(CHIP_TEMPLATE_51, dtype=torch.float32, device=crops.device)
    crop_to_chip = similarity_to_template(points68[:, INNER_FIRST:].to(crops.device, torch.float32), template)
    chips = sample_affine(crops, crop_to_chip, CHIP_SIZE, padding_mode="border")
    return pixel_values(chips)
