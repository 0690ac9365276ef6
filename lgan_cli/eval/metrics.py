"""PSNR and SSIM on batches of torch images, numerically the same as scikit-image's.

Both take (B, C, H, W) tensors on any device and return one value per image, shape (B,),
as float64: the sums run in float64 so the numbers agree with scikit-image (which works in
float64 for float64 input) to well under 1e-3, whatever the input dtype.

SSIM follows Wang et al. 2004 as scikit-image implements it with `gaussian_weights=True,
sigma=1.5, use_sample_covariance=False`: an 11x11 Gaussian window (sigma 1.5, truncated
at 3.5 sigma), K1 = 0.01, K2 = 0.03, the SSIM map kept only where the window fits inside
the image (scikit-image filters with reflection and then crops the 5-pixel border, which
is the same thing), averaged over that region and then over channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SSIM_SIGMA = 1.5
SSIM_RADIUS = int(3.5 * SSIM_SIGMA + 0.5)  # 5, as scipy.ndimage with truncate=3.5: an 11-tap window
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"expected two (B, C, H, W) tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image: 10 log10(data_range^2 / MSE).

    `data_range` is max - min of the value scale: 2.0 for [-1, 1] images, 1.0 for [0, 1],
    255 for uint8. Identical images have MSE 0 and get +inf (as scikit-image, without its
    divide-by-zero warning); callers that average PSNR should cap it first.
    """
    _check_pair(x, y)
    mse = (x.double() - y.double()).pow(2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(data_range**2 / mse)


def _gaussian_window(device: torch.device) -> torch.Tensor:
    """The 1-D normalised Gaussian that scipy.ndimage.gaussian_filter uses (sigma 1.5, radius 5)."""
    offsets = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=torch.float64, device=device)
    weights = torch.exp(-0.5 * (offsets / SSIM_SIGMA) ** 2)
    return weights / weights.sum()


def _filter_valid(images: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian mean over each (image, channel) plane, without padding."""
    planes = images.reshape(-1, 1, *images.shape[-2:])
    planes = F.conv2d(planes, window.view(1, 1, -1, 1))
    return F.conv2d(planes, window.view(1, 1, 1, -1))


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Mean structural similarity per image, in [-1, 1]; 1 for identical images.

    Needs H and W of at least 11 (the window size). See the module docstring for the exact
    definition; `data_range` as for `psnr`.
    """
    return ssim_map(x, y, data_range).mean(dim=(2, 3)).mean(dim=1)


def ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """The local SSIM values (B, C, H - 10, W - 10), float64: pixel (i, j) of the map belongs to
    image pixel (i + 5, j + 5). For averaging over a region of the image (a face without its mouth)."""
    _check_pair(x, y)
    size = 2 * SSIM_RADIUS + 1
    if min(x.shape[-2:]) < size:
        raise ValueError(f"SSIM needs images of at least {size}x{size}, got {tuple(x.shape[-2:])}")
    batch, channels = x.shape[:2]
    x, y = x.double(), y.double()
    window = _gaussian_window(x.device)

    # one filtering pass over the five planes the statistics need
    stacked = torch.stack([x, y, x * x, y * y, x * y])  # (5, B, C, H, W)
    filtered = _filter_valid(stacked, window)
    mu_x, mu_y, xx, yy, xy = filtered.reshape(5, batch, channels, *filtered.shape[-2:])
    var_x = xx - mu_x * mu_x
    var_y = yy - mu_y * mu_y
    cov_xy = xy - mu_x * mu_y

    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    return ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
