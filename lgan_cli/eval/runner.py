"""Evaluate an expression editor on the (source, target) pairs of a prepared dataset's split.

For every pair the editor translates the source crop to the target's expression; the output
is compared with the real target photo (PSNR, SSIM, LPIPS, identity), re-detected to measure
its landmarks against the target's, and read by the expression classifier. An editor that
returns its target landmarks (LandmarkGAN's stage I) also has those measured against the
target's points directly ("G_l dist"; for the copy baseline, the source's own points). The 'copy the
input' baseline runs on the same pairs, so every number has a floor beside it. Targets are first
registered onto their sources on the stable points (`lgan_cli.data.registration`), as in training:
an output lives in its source's frame, and how each photo happened to be cropped is no error.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from lgan_cli.data.pairs import spread_evenly
from lgan_cli.data.prepared import PreparedDataset, PreparedItem
from lgan_cli.data.registration import register_pairs
from lgan_cli.errors import LganError
from lgan_cli.eval.landmarks import REFERENCE_SIZE, landmark_distance
from lgan_cli.eval.metrics import psnr, ssim
from lgan_cli.facenets.expression import (
    DATASET_TO_CLASS,
    EXPRESSION_CLASSES,
    expression_input_from_crop,
    load_expression_net,
)
from lgan_cli.facenets.identity import identity_chip_from_crop, load_identity_net
from lgan_cli.facenets.lpips import load_lpips
from lgan_cli.faces.detect import FaceDetector
from lgan_cli.models.editor import CopyEditor, Editor, crops_as_delivered
from lgan_cli.pixels import to_pictures, to_tensor

REAL = "real"
"""The method name under which `ceiling=True` scores the real target photos."""

VERIFICATION_THRESHOLD = 0.6
"""dlib's same-person rule: descriptors closer than 0.6 (Euclidean) belong to one person."""


@dataclass
class PairScore:
    source: str
    target: str
    source_expression: str
    target_expression: str
    target_intensity: int | None  # 1..4 where the data has levels (neutral and unlevelled data: None)
    psnr: float
    ssim: float
    lpips: float
    landmark_distance: float | None  # None when no face was found in the output
    generated_landmark_distance: float | None  # the editor's own target points vs the target's (None: none given)
    identity_cosine: float
    verified: bool
    expression_predicted: str
    expression_correct: bool | None  # None when the target expression has no classifier class
    smile: float | None  # MediaPipe mouthSmileLeft/Right mean of the output


@dataclass
class MethodResult:
    name: str
    scores: list[PairScore] = field(default_factory=list)
    seconds: float = 0.0
    fid: float | None = None  # over all outputs vs all real targets, when requested

    def summary(self, target_expression: str | None = None, target_intensity: int | None = None) -> dict:
        chosen = [
            s
            for s in self.scores
            if target_expression in (None, s.target_expression) and target_intensity in (None, s.target_intensity)
        ]
        return summarise(chosen)


def summarise(scores: list[PairScore]) -> dict:
    """Means over pairs; rates as fractions; values that are undefined for a pair are left out.

    Every metric of `lgan_cli.eval.metric_table.METRICS`, and `pairs` and `face_found`.
    """

    def mean(values) -> float | None:
        values = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
        return sum(values) / len(values) if values else None

    return {
        "pairs": len(scores),
        "psnr": mean(min(s.psnr, 100.0) for s in scores),
        "ssim": mean(s.ssim for s in scores),
        "lpips": mean(s.lpips for s in scores),
        "landmark_distance": mean(s.landmark_distance for s in scores),
        "generated_landmark_distance": mean(s.generated_landmark_distance for s in scores),
        "face_found": mean(s.landmark_distance is not None for s in scores),
        "identity_cosine": mean(s.identity_cosine for s in scores),
        "verified": mean(s.verified for s in scores),
        "expression_correct": mean(s.expression_correct for s in scores),
        "smile": mean(s.smile for s in scores),
    }


class Judges:
    """The frozen networks and detector that score outputs, loaded once."""

    def __init__(self, device: torch.device):
        self.device = device
        self.identity = load_identity_net(device)
        self.expression = load_expression_net(device)
        self.lpips = load_lpips(device)
        self.detector = FaceDetector(max_faces=1)

    def close(self) -> None:
        self.detector.close()

    @torch.no_grad()
    def score(
        self,
        outputs: torch.Tensor,
        targets: torch.Tensor,
        target_points: torch.Tensor,
        sources: list[PreparedItem],
        target_items: list[PreparedItem],
    ) -> list[PairScore]:
        """Score a batch of outputs (B, 3, S, S) in [-1, 1] against the real targets (registered
        onto the sources, with their points `target_points`)."""
        size = outputs.shape[-1]
        outputs, targets = outputs.to(self.device).clamp(-1, 1), targets.to(self.device)
        psnr_values = psnr(outputs, targets, data_range=2.0)
        ssim_values = ssim(outputs, targets, data_range=2.0)
        lpips_values = self.lpips(outputs, targets)

        detected = [self._detect(image) for image in outputs]
        # identity and expression inputs follow the output's own landmarks when found, else the target's
        output_points = torch.stack(
            [
                torch.from_numpy(points) if points is not None else fallback
                for (points, _), fallback in zip(detected, target_points.cpu())
            ]
        ).to(self.device)
        reference_points = target_points.cpu().numpy()
        target_points = target_points.to(self.device)
        descriptors = self.identity(identity_chip_from_crop(outputs, output_points))
        target_descriptors = self.identity(identity_chip_from_crop(targets, target_points))
        cosines = F.cosine_similarity(descriptors, target_descriptors)
        distances = (descriptors - target_descriptors).norm(dim=1)
        probabilities = self.expression(expression_input_from_crop(outputs, output_points))
        predicted = [EXPRESSION_CLASSES[i] for i in probabilities.argmax(dim=1).tolist()]

        scores = []
        for i, (source, target) in enumerate(zip(sources, target_items)):
            points, smile = detected[i]
            wanted = DATASET_TO_CLASS.get(target.expression)
            scores.append(
                PairScore(
                    source=source.key,
                    target=target.key,
                    source_expression=source.expression,
                    target_expression=target.expression,
                    target_intensity=target.intensity,
                    psnr=float(psnr_values[i]),
                    ssim=float(ssim_values[i]),
                    lpips=float(lpips_values[i]),
                    landmark_distance=None if points is None else landmark_distance(points, reference_points[i], size),
                    generated_landmark_distance=None,
                    identity_cosine=float(cosines[i]),
                    verified=bool(distances[i] < VERIFICATION_THRESHOLD),
                    expression_predicted=predicted[i],
                    expression_correct=None if wanted is None else predicted[i] == wanted,
                    smile=smile,
                )
            )
        return scores

    def _detect(self, image: torch.Tensor) -> tuple[np.ndarray | None, float | None]:
        """An output's 68 points (its own crop pixels) and smile score, detected at 256 px.

        Detection runs on a 256-px upscale, the size the detector and the paper's distances
        are used to; points are mapped back to the crop's pixel grid.
        """
        size = image.shape[-1]
        upscaled = F.interpolate(image[None].float(), size=REFERENCE_SIZE, mode="bicubic", align_corners=False)[0]
        rgb = to_pictures(upscaled[None])[0]
        faces = self.detector.detect(rgb)
        if not faces:
            return None, None
        scores = faces[0].blendshapes
        smile = (scores.get("mouthSmileLeft", 0.0) + scores.get("mouthSmileRight", 0.0)) / 2
        # pixel centres: p_256 = (p + 0.5) * 256 / S - 0.5 (resize with align_corners=False)
        points = (faces[0].points68 + 0.5) * size / REFERENCE_SIZE - 0.5
        return points.astype(np.float32), smile


@dataclass
class EvalReport:
    model: str
    dataset: str
    split: str
    resolution: int
    methods: dict[str, MethodResult]
    seconds: float
    notes: list[str]

    @property
    def pairs(self) -> int:
        return len(next(iter(self.methods.values())).scores)

    @property
    def expressions(self) -> list[str]:
        first = next(iter(self.methods.values()))
        return sorted({s.target_expression for s in first.scores})

    @property
    def intensities(self) -> list[int]:
        """The target intensity levels present (empty for data without levels)."""
        first = next(iter(self.methods.values()))
        return sorted({s.target_intensity for s in first.scores if s.target_intensity is not None})

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "dataset": self.dataset,
            "split": self.split,
            "resolution": self.resolution,
            "pairs": self.pairs,
            "seconds": round(self.seconds, 3),
            "seconds_per_pair": round(self.seconds / max(self.pairs, 1), 4),
            "verification_threshold": VERIFICATION_THRESHOLD,
            "landmark_distance_units": f"pixels at {REFERENCE_SIZE} px",
            "notes": self.notes,
            "methods": {
                name: {
                    "edit_seconds": round(result.seconds, 3),
                    "fid": result.fid,
                    "overall": result.summary(),
                    "per_target_expression": {e: result.summary(e) for e in self.expressions},
                    "per_target_intensity": {str(k): result.summary(target_intensity=k) for k in self.intensities},
                    "pairs": [vars(s) for s in result.scores],
                }
                for name, result in self.methods.items()
            },
        }


def evaluate(
    editor: Editor,
    dataset: PreparedDataset,
    split: str = "test",
    *,
    device: torch.device | str = "cpu",
    batch_size: int = 8,
    baseline: bool = True,
    limit: int | None = None,
    pair_mode: str = "all",
    on_progress: Callable[[int], None] | None = None,
    judges: Judges | None = None,
    fid: bool = False,
    ceiling: bool = False,
) -> EvalReport:
    """Run `editor` (and the copy baseline) over every (source, target) pair of `split`.

    Pass `judges` to reuse loaded scoring networks across calls (validation during training).
    With `ceiling`, the real target photos are scored too (method "real"): what the expression
    classifier and the smile score say of genuine photos, the bar a generated face can reach;
    their comparisons with themselves (PSNR, SSIM, ...) are trivially perfect.
    With `fid`, also the Fréchet Inception Distance of each method's outputs to the real
    targets (needs the Inception file, see lgan_cli.eval.fid; noisy with few pairs).
    `pair_mode` picks which pairs (lgan_cli.data.pairs.PAIR_MODES); `limit` keeps that many,
    spread evenly over the split so every person and expression stays represented.
    """
    started = time.perf_counter()
    device = torch.device(device)
    pairs = spread_evenly(dataset.pairs(split, pair_mode), limit)
    _check_compatible(editor, dataset, pairs)
    methods: list[Editor] = [editor]
    if baseline and editor.name != CopyEditor.name:
        methods.append(CopyEditor())
    results = {method.name: MethodResult(method.name) for method in methods}
    if ceiling:
        results[REAL] = MethodResult(REAL)
    crops: dict[str, np.ndarray] = {}
    inception = None
    features: dict[str, list[torch.Tensor]] = {name: [] for name in [*results, "real-targets"]}
    if fid:
        from lgan_cli.eval.fid import InceptionFeatures

        inception = InceptionFeatures(device)

    def crop(item: PreparedItem) -> np.ndarray:
        if item.key not in crops:
            crops[item.key] = item.load_crop()
        return crops[item.key]

    own_judges = judges is None
    judges = judges or Judges(device)
    try:
        for start in range(0, len(pairs), batch_size):
            batch = pairs[start : start + batch_size]
            sources, targets = [s for s, _ in batch], [t for _, t in batch]
            source_images = to_tensor([crop(s) for s in sources]).to(device)
            target_images = to_tensor([crop(t) for t in targets]).to(device)
            source_points = torch.from_numpy(np.stack([s.points68 for s in sources])).to(device)
            target_points = torch.from_numpy(np.stack([t.points68 for t in targets]))
            target_images, target_points = register_pairs(target_images, target_points, source_points)
            target_points = target_points.cpu()
            for method in methods:
                edit_started = time.perf_counter()
                with torch.no_grad():
                    output = method.edit(
                        source_images, source_points, [t.expression for t in targets], [t.intensity for t in targets]
                    )
                    images = crops_as_delivered(method, output, source_images, source_points)
                results[method.name].seconds += time.perf_counter() - edit_started
                scores = judges.score(images, target_images, target_points, sources, targets)
                if output.points68 is not None:  # stage I on its own: generated vs real target points
                    for score, points, target_points68 in zip(
                        scores, output.points68.cpu().numpy(), target_points.numpy()
                    ):
                        score.generated_landmark_distance = landmark_distance(
                            points, target_points68, dataset.resolution
                        )
                results[method.name].scores += scores
                if inception is not None:
                    features[method.name].append(inception(images.clamp(-1, 1)))
            if ceiling:
                results[REAL].scores += judges.score(target_images, target_images, target_points, sources, targets)
            if inception is not None:
                features["real-targets"].append(inception(target_images))
            if on_progress:
                on_progress(len(batch))
    finally:
        if own_judges:
            judges.close()
    if inception is not None:
        from lgan_cli.eval.fid import fid_from_features

        real = torch.cat(features["real-targets"])
        for name, result in results.items():
            if name != REAL:
                result.fid = fid_from_features(torch.cat(features[name]), real)
    notes = []
    if any(DATASET_TO_CLASS.get(t.expression, "?") is None for _, t in pairs):
        notes.append("contemptuous has no class in the expression classifier: left out of expression accuracy")
    return EvalReport(
        model=editor.name,
        dataset=str(dataset.root),
        split=split,
        resolution=dataset.resolution,
        methods=results,
        seconds=time.perf_counter() - started,
        notes=notes,
    )


def _check_compatible(editor: Editor, dataset: PreparedDataset, pairs: list) -> None:
    if not pairs:
        raise LganError(f"{dataset.root} has no (source, target) pairs in this split")
    if editor.resolution is not None and editor.resolution != dataset.resolution:
        raise LganError(
            f"model '{editor.name}' works at {editor.resolution} px but {dataset.root} was prepared at "
            f"{dataset.resolution} px; prepare the data with --resolution {editor.resolution}"
        )
    if editor.expressions is not None:
        unknown = sorted({t.expression for _, t in pairs} - set(editor.expressions))
        if unknown:
            raise LganError(
                f"model '{editor.name}' does not know {', '.join(unknown)}; it knows {', '.join(editor.expressions)}"
            )
