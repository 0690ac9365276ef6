"""Training pairs in memory, batching and augmentation.

A prepared dataset is small (crops at S px), so all crops live in one uint8 tensor; a batch
is gathered and augmented in torch. Augmentation draws come from a generator seeded by
(seed, epoch, position), so a resumed run sees exactly the batches an uninterrupted one
would. The same draw is applied to a pair's source and target: the target must stay a
geometrically and photometrically consistent ground truth for the source. Before that, each
target is registered onto its source on the stable points (`lgan_cli.data.registration`), so
the pair differs by the expression and not by how each photo happened to be cropped.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from lgan_cli.data.prepared import PreparedDataset
from lgan_cli.data.registration import apply_matrix, registration_matrix, warp_images
from lgan_cli.errors import DatasetError
from lgan_cli.faces.ibug68 import FLIP_PERMUTATION
from lgan_cli.pixels import channels_first, from_levels
from lgan_cli.synth.recipes import mirror_symmetric
from lgan_cli.train.config import AugmentConfig


class PairData:
    """(source, target) pairs of one split, with crops and points as tensors."""

    def __init__(
        self,
        dataset: PreparedDataset,
        split: str,
        source_expressions: tuple[str, ...] | None = None,
        target_expressions: tuple[str, ...] | None = None,
        mode: str = "all",
        register: bool = True,
        identity_pairs: bool = False,
    ):
        pairs = [
            (s, t)
            for s, t in dataset.pairs(split, mode)
            if (source_expressions is None or s.expression in source_expressions)
            and (target_expressions is None or t.expression in target_expressions)
        ]
        if not pairs:
            raise DatasetError(f"no training pairs in split '{split}' of {dataset.root} with the chosen expressions")
        items = sorted({item.key: item for pair in pairs for item in pair}.values(), key=lambda i: i.key)
        if identity_pairs:  # the request that changes nothing: the photo with its own expression
            pairs = pairs + [(item, item) for item in items]
        position = {item.key: index for index, item in enumerate(items)}
        self.resolution = dataset.resolution
        self.crops = channels_first([item.load_crop() for item in items]).contiguous()
        self.points = torch.from_numpy(np.stack([item.points68 for item in items]))
        self.source_index = torch.tensor([position[s.key] for s, _ in pairs])
        self.target_index = torch.tensor([position[t.key] for _, t in pairs])
        self.target_expressions = [t.expression for _, t in pairs]
        self.target_intensities = [t.intensity for _, t in pairs]
        self.source_expressions = [s.expression for s, _ in pairs]
        self.registration = torch.from_numpy(
            np.stack(
                [
                    registration_matrix(self.points[t], self.points[s]) if register else np.eye(2, 3)
                    for s, t in zip(self.source_index.tolist(), self.target_index.tolist())
                ]
            )
        ).float()  # (pairs, 2, 3): target crop -> source crop frame
        self.all_points = self.points  # every shape, for fitting the PDM
        self.fitted_points: torch.Tensor | None = None  # (pairs, 68, 2), see attach_fitted_requests

    def attach_fitted_requests(self) -> PairData:
        """Give every pair the fitted 3D model's target points for its request, in the source crop's
        frame: the input of a G_l on the fitted base (`ModelConfig.landmark_base`)."""
        from lgan_cli.data.geometry_targets import fitted_request_points

        sources = self.points[self.source_index].numpy()
        self.fitted_points = torch.from_numpy(
            fitted_request_points(sources, self.target_expressions, self.target_intensities)
        )
        return self

    def __len__(self) -> int:
        return len(self.target_expressions)

    def join(self, other: PairData) -> PairData:
        """These pairs and `other`'s (e.g. real and synthetic), one training set at one resolution."""
        if other.resolution != self.resolution:
            raise DatasetError(f"cannot train on {self.resolution} px and {other.resolution} px crops together")
        offset = len(self.crops)
        self.crops = torch.cat([self.crops, other.crops])
        self.points = self.all_points = torch.cat([self.points, other.points])
        self.source_index = torch.cat([self.source_index, other.source_index + offset])
        self.target_index = torch.cat([self.target_index, other.target_index + offset])
        self.target_expressions = self.target_expressions + other.target_expressions
        self.target_intensities = self.target_intensities + other.target_intensities
        self.source_expressions = self.source_expressions + other.source_expressions
        self.registration = torch.cat([self.registration, other.registration])
        self.fitted_points = None  # attached to the joined set, if needed
        return self

    def batch(
        self, indices: list[int], augment: AugmentConfig | None = None, generator: torch.Generator | None = None
    ) -> dict:
        """Source and target crops in [-1, 1] (the target registered onto the source), their points,
        and the target labels."""
        index = torch.tensor(indices)
        source = from_levels(self.crops[self.source_index[index]])
        target = from_levels(self.crops[self.target_index[index]])
        source_points = self.points[self.source_index[index]].clone()
        matrices = self.registration[index]
        target = warp_images(target, matrices)
        target_points = torch.from_numpy(
            np.stack(
                [apply_matrix(m, p) for m, p in zip(matrices.numpy(), self.points[self.target_index[index]].numpy())]
            )
        )
        expressions = [self.target_expressions[i] for i in indices]
        fitted = () if self.fitted_points is None else (self.fitted_points[index].clone(),)
        if augment is not None:
            source, target, source_points, target_points, *fitted = augment_pair(
                source, target, source_points, target_points, augment, generator, mirrorable(expressions), fitted
            )
        return {
            "source": source,
            "target": target,
            "source_points": source_points,
            "target_points": target_points,
            "expressions": expressions,
            "intensities": [self.target_intensities[i] for i in indices],
            **({"fitted_points": fitted[0]} if fitted else {}),
        }


class PointTargets:
    """(source crop, target points) samples without a target photo: stage I's training on the
    3D model's geometry (`lgan_cli.data.geometry_targets`). Batches look like PairData's, less
    "target", plus "fitted_points" (the fitted 3D model's points for each request).

    `photo_targets` (`geometry_targets.photo_point_targets`) join them, drawn `photo_share` of the
    time (`draw`): the real photos' own points, which the 3D model's targets do not teach."""

    def __init__(self, targets: list, resolution: int, photo_targets: list = (), photo_share: float = 0.0):
        if not targets:
            raise DatasetError("no geometry targets to train stage I on")
        if not 0.0 <= photo_share < 1.0 or (photo_share > 0) != bool(photo_targets):
            raise ValueError("photo_share must be in [0, 1), and above 0 exactly when there are photo targets")
        self.photo_share, self.geometry_count = photo_share, len(targets)
        targets = list(targets) + list(photo_targets)
        items = sorted({t.source.key: t.source for t in targets}.values(), key=lambda i: i.key)
        position = {item.key: index for index, item in enumerate(items)}
        self.resolution = resolution
        self.crops = torch.from_numpy(np.stack([item.load_crop() for item in items])).permute(0, 3, 1, 2).contiguous()
        self.points = torch.from_numpy(np.stack([item.points68 for item in items]))
        self.source_index = torch.tensor([position[t.source.key] for t in targets])
        self.target_points = torch.from_numpy(np.stack([t.points68 for t in targets]))
        self.fitted_points = torch.from_numpy(np.stack([t.fitted for t in targets]))
        self.target_expressions = [t.expression for t in targets]
        self.target_intensities = [t.level for t in targets]

    def __len__(self) -> int:
        return len(self.target_expressions)

    def draw(self, count: int, generator: torch.Generator) -> list[int]:
        """`count` random sample indices: uniform over the 3D model's targets, or with photo targets,
        each a photo target with probability `photo_share`."""
        if not self.photo_share:
            return torch.randint(len(self), (count,), generator=generator).tolist()
        photos = len(self) - self.geometry_count
        weights = torch.cat(
            [
                torch.full((self.geometry_count,), (1 - self.photo_share) / self.geometry_count),
                torch.full((photos,), self.photo_share / photos),
            ]
        )
        return torch.multinomial(weights, count, replacement=True, generator=generator).tolist()

    def batch(
        self, indices: list[int], augment: AugmentConfig | None = None, generator: torch.Generator | None = None
    ) -> dict:
        index = torch.tensor(indices)
        source = self.crops[self.source_index[index]].float() / 127.5 - 1
        source_points = self.points[self.source_index[index]].clone()
        target_points = self.target_points[index].clone()
        fitted_points = self.fitted_points[index].clone()
        expressions = [self.target_expressions[i] for i in indices]
        if augment is not None:
            may_flip = mirrorable(expressions)
            source, _, source_points, target_points, fitted_points = augment_pair(
                source, None, source_points, target_points, augment, generator, may_flip, (fitted_points,)
            )
        return {
            "source": source,
            "source_points": source_points,
            "target_points": target_points,
            "fitted_points": fitted_points,
            "expressions": expressions,
            "intensities": [self.target_intensities[i] for i in indices],
        }


def mirrorable(target_expressions: list[str]) -> torch.Tensor:
    """(B,) bool: which samples a flip keeps true to their label (`recipes.mirror_symmetric`)."""
    return torch.tensor([mirror_symmetric(expression) for expression in target_expressions], dtype=torch.bool)


def augment_pair(
    source,
    target,
    source_points,
    target_points,
    config: AugmentConfig,
    generator: torch.Generator | None,
    may_flip: torch.Tensor | None = None,
    target_frame: tuple[torch.Tensor, ...] = (),
):
    """Apply one random flip / affine / colour draw per sample to both images of each pair
    (`target` may be None: a sample with target points only). `may_flip` (B,) bool: samples
    that are never mirrored (a one-sided target expression); all may be when None.
    `target_frame`: more (B, 68, 2) point sets moved like `target_points`, returned after it."""
    batch, _, size, _ = source.shape

    def uniform(amplitude: float) -> torch.Tensor:
        return (torch.rand(batch, generator=generator) * 2 - 1) * amplitude

    if config.flip:
        flip = torch.rand(batch, generator=generator) < 0.5
        if may_flip is not None:
            flip = flip & may_flip
        source, target = _flip_where(source, flip), (None if target is None else _flip_where(target, flip))
        source_points = _flip_points_where(source_points, flip, size)
        target_points = _flip_points_where(target_points, flip, size)
        target_frame = tuple(_flip_points_where(points, flip, size) for points in target_frame)
    if config.rotate or config.scale or config.shift:
        angle = uniform(math.radians(config.rotate))
        zoom = 1 + uniform(config.scale)
        shift = torch.stack([uniform(config.shift), uniform(config.shift)], dim=1) * size
        source, source_points = _affine(source, source_points, angle, zoom, shift)
        if target is None:
            target_points = _move_points(target_points, _affine_matrices(angle, zoom), shift, size)
        else:
            target, target_points = _affine(target, target_points, angle, zoom, shift)
        target_frame = tuple(
            _move_points(points, _affine_matrices(angle, zoom), shift, size) for points in target_frame
        )
    if config.colour:
        brightness = uniform(config.colour)[:, None, None, None]
        contrast = 1 + uniform(config.colour)[:, None, None, None]
        saturation = 1 + uniform(config.colour)[:, None, None, None]
        source = _colour(source, brightness, contrast, saturation)
        target = None if target is None else _colour(target, brightness, contrast, saturation)
    return (source, target, source_points, target_points, *target_frame)


def _flip_where(images: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def _flip_points_where(points: torch.Tensor, flip: torch.Tensor, size: int) -> torch.Tensor:
    mirrored = points[:, list(FLIP_PERMUTATION)].clone()
    mirrored[..., 0] = (size - 1) - mirrored[..., 0]
    return torch.where(flip[:, None, None], mirrored, points)


def _affine_matrices(angle: torch.Tensor, zoom: torch.Tensor) -> torch.Tensor:
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    return torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # (B, 2, 2)


def _move_points(points: torch.Tensor, forward: torch.Tensor, shift: torch.Tensor, size: int) -> torch.Tensor:
    centre = (size - 1) / 2
    return (points - centre) @ forward.transpose(1, 2) + centre + shift[:, None, :]


def _affine(images: torch.Tensor, points: torch.Tensor, angle: torch.Tensor, zoom: torch.Tensor, shift: torch.Tensor):
    """Rotate by `angle`, scale by `zoom` about the centre and shift (pixels); move points the same way."""
    size = images.shape[-1]
    forward = _affine_matrices(angle, zoom)
    moved = _move_points(points, forward, shift, size)
    # grid_sample needs the inverse map in normalised coordinates (align_corners=True)
    inverse = torch.linalg.inv(forward)
    offset = -(inverse @ (shift * 2 / (size - 1))[:, :, None])
    theta = torch.cat([inverse, offset], dim=2)
    grid = F.affine_grid(theta, list(images.shape), align_corners=True)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return warped, moved


def augmented_shapes(
    points: torch.Tensor, config: AugmentConfig, size: int, draws: int = 8, seed: int = 0
) -> torch.Tensor:
    """The shapes as training will show them: flips and geometric jitter, `draws` times each.

    The point distribution model must span these (a PCA of aligned shapes alone cannot express
    a shifted or rotated face, and G_l's landmark error would stop at that floor).
    """
    generator = torch.Generator().manual_seed(seed)
    shapes = [points]
    if config.flip:
        shapes.append(_flip_points_where(points, torch.ones(len(points), dtype=torch.bool), size))
    base = torch.cat(shapes)
    if not (config.rotate or config.scale or config.shift):
        return base
    out = [base]
    for _ in range(draws):
        count = len(base)
        uniform = lambda amplitude: (torch.rand(count, generator=generator) * 2 - 1) * amplitude  # noqa: E731
        forward = _affine_matrices(uniform(math.radians(config.rotate)), 1 + uniform(config.scale))
        shift = torch.stack([uniform(config.shift), uniform(config.shift)], dim=1) * size
        out.append(_move_points(base, forward, shift, size))
    return torch.cat(out)


def _colour(images, brightness, contrast, saturation):
    grey = images.mean(dim=1, keepdim=True)
    images = grey + (images - grey) * saturation
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = (images - mean) * contrast + mean + brightness
    return images.clamp(-1, 1)
