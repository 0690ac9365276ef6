"""Fitting the ICT face model to one face's 68 landmarks: identity, own expression, pose.

Why fit the face's own expression too: a smiling photo fitted with identity alone would bake
the smile into the "identity" (wide mouth, high lip corners), and every target expression
built on it would still smile. Fitting bounded blendshape weights next to the identity lets
the transfer remove the source's expression before adding the target one.

The problem, in the input's pixels y_i (68 points):

    min  sum_i w_i |s * FLIP R (mean + A a + B e)_i + t - y_i|^2 / noise^2
         + |a|^2 + l2 |e|^2 + l1 sum(e)        with 0 <= e <= 1

a: the first K identity weights (their prior is N(0, 1), hence |a|^2), e: the landmark-relevant
blendshapes (jaw, mouth, brows, lids, cheeks), a small L2 + L1 prior so a neutral face stays
at (near) zero and identity, not expression, explains a person's resting shape. The jaw points
get w = 0.3: on a turned face the 2D jaw line is a silhouette, not a fixed set of vertices.

Solver: Gauss-Newton on all unknowns jointly (pose as a rotation increment, scale, shift),
each step a small box-constrained quadratic (an active-set solve), starting from the affine
camera of the mean shape. The points are first moved and scaled to the model's size, so the
priors mean the same at any image resolution. All arrays are the 68 landmark rows (see
basis.py): about a millisecond per iteration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from lgan_cli.faces.ibug68 import JAW
from lgan_cli.geometry.basis import LandmarkBasis, landmark_basis
from lgan_cli.geometry.conventions import DEFAULT_CONVENTION
from lgan_cli.geometry.pose import FLIP, Pose, nearest_rotation, rodrigues

#: Blendshapes the fit estimates: those that move the 68 points and that a posed or resting
#: face shows (every shape the expression recipes use, plus blink and pucker). Gaze (eyeLook*),
#: cheekPuff, jaw/mouth side shifts and mouthClose are left out: they barely move the points or
#: trade off against pose, and would only make the fit less certain.
FIT_BLENDSHAPES: tuple[str, ...] = (
    "browDown_L",
    "browDown_R",
    "browInnerUp_L",
    "browInnerUp_R",
    "browOuterUp_L",
    "browOuterUp_R",
    "cheekSquint_L",
    "cheekSquint_R",
    "eyeBlink_L",
    "eyeBlink_R",
    "eyeSquint_L",
    "eyeSquint_R",
    "eyeWide_L",
    "eyeWide_R",
    "jawOpen",
    "mouthDimple_L",
    "mouthDimple_R",
    "mouthFrown_L",
    "mouthFrown_R",
    "mouthFunnel",
    "mouthLowerDown_L",
    "mouthLowerDown_R",
    "mouthPress_L",
    "mouthPress_R",
    "mouthPucker",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthSmile_L",
    "mouthSmile_R",
    "mouthStretch_L",
    "mouthStretch_R",
    "mouthUpperUp_L",
    "mouthUpperUp_R",
    "noseSneer_L",
    "noseSneer_R",
)


@dataclass(frozen=True)
class FitConfig:
    """Knobs of the fit; the defaults were chosen on synthetic faces and London photos.

    noise: landmark noise (model units, cm, after scaling the face to the model's size); it
        sets how much the data outweighs the priors.
    """

    identity_modes: int = 40
    blendshapes: tuple[str, ...] = FIT_BLENDSHAPES
    jaw_weight: float = 0.3
    noise: float = 0.1
    expression_l2: float = 1.0
    expression_l1: float = 0.5
    iterations: int = 12
    tolerance: float = 1e-5


@dataclass(frozen=True)
class FaceFit:
    """The fitted model of one face, in the pixel frame of the points it was fitted to."""

    points: np.ndarray  # (68, 2) the input points
    identity: np.ndarray  # (K,) identity weights (modes 0..K-1)
    expression: np.ndarray  # (E,) the face's own blendshape weights in [0, 1]
    expression_names: tuple[str, ...]  # names of `expression`'s entries
    pose: Pose
    residual_px: float  # mean distance (px) of the fitted projection to the input points
    iterations: int
    basis: LandmarkBasis = field(repr=False)

    @property
    def expression_weights(self) -> dict[str, float]:
        """The face's own expression as {blendshape: weight}, zero weights left out."""
        return {name: float(value) for name, value in zip(self.expression_names, self.expression) if value > 0}

    def project(self, expression: Mapping[str, float] | None = None) -> np.ndarray:
        """(68, 2) pixels of this identity and pose with the given blendshape weights
        (None or {} = the neutral face)."""
        return self.pose.project(self.basis.shape(self.identity, dict(expression or {})))

    @property
    def fitted_points(self) -> np.ndarray:
        """The fit's own reproduction of the input: identity + own expression, projected."""
        return self.project(self.expression_weights)

    @property
    def neutral_points(self) -> np.ndarray:
        """The same face with its expression removed (identity only), projected."""
        return self.project({})


def point_weights(jaw_weight: float) -> np.ndarray:
    """(68,) weights of the squared residuals: 1, and `jaw_weight` on the 17 jaw points."""
    weights = np.ones(68)
    weights[list(JAW)] = jaw_weight
    return weights


def fit_face(
    points: np.ndarray,
    basis: LandmarkBasis | None = None,
    config: FitConfig = FitConfig(),
    weights: np.ndarray | None = None,
    convention: str = DEFAULT_CONVENTION,
) -> FaceFit:
    """Fit identity, own expression and weak-perspective pose to 68 points (pixels, any frame).

    `weights` (68,), optional, multiply the per-point weights (e.g. 0 for a point known to be
    wrong or occluded). `convention` picks the landmark convention of the default basis
    ('mediapipe' for detected points, 'ict' for points projected from the model; see
    conventions.py); a given `basis` already has one. Raises ValueError for points that are not 68 finite (x, y) pairs.
    """
    y = np.asarray(points, dtype=np.float64)
    if y.shape != (68, 2) or not np.all(np.isfinite(y)):
        raise ValueError(f"need 68 finite (x, y) points, got an array of shape {y.shape}")
    basis = basis if basis is not None else landmark_basis(points=convention)
    if not 0 <= config.identity_modes <= len(basis.identity):
        raise ValueError(f"identity_modes must be in 0..{len(basis.identity)}, got {config.identity_modes}")
    w = point_weights(config.jaw_weight)
    if weights is not None:
        w = w * np.asarray(weights, dtype=np.float64).reshape(68)
    if np.count_nonzero(w > 0) < 6:
        raise ValueError("at least 6 points need a positive weight")

    # Move the points to the model's size and place: the priors then mean the same at any
    # resolution, and the solver's numbers stay near 1.
    centre = (w[:, None] * y).sum(0) / w.sum()
    spread = np.sqrt((w * ((y - centre) ** 2).sum(1)).sum() / w.sum())
    if spread <= 0:
        raise ValueError("the 68 points are all at one place")
    mean = basis.mean
    model_centre = (w[:, None] * mean).sum(0) / w.sum()
    model_spread = np.sqrt((w * ((mean[:, :2] - model_centre[:2]) ** 2).sum(1)).sum() / w.sum())
    k = model_spread / spread
    target = (y - centre) * k

    identity_rows = basis.identity[: config.identity_modes]
    expression_rows = basis.expression_rows(config.blendshapes)
    solution = _gauss_newton(target, w, mean, identity_rows, expression_rows, config)
    rotation, scale, shift, a, e, iterations = solution

    pose = Pose(rotation=rotation, scale=scale / k, translation=shift / k + centre)
    fitted = pose.project(mean + np.tensordot(a, identity_rows, axes=1) + np.tensordot(e, expression_rows, axes=1))
    return FaceFit(
        points=y.copy(),
        identity=a,
        expression=e,
        expression_names=tuple(config.blendshapes),
        pose=pose,
        residual_px=float(np.linalg.norm(fitted - y, axis=1).mean()),
        iterations=iterations,
        basis=basis,
    )


def _affine_start(target: np.ndarray, w: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Rotation, scale and shift from the weighted affine camera mapping the mean shape to the points."""
    design = np.hstack([mean, np.ones((68, 1))]) * np.sqrt(w)[:, None]
    camera, *_ = np.linalg.lstsq(design, target * np.sqrt(w)[:, None], rcond=None)  # (4, 2)
    block = camera[:3].T  # (2, 3) = s * FLIP @ R
    # FLIP @ R has rows (R0, -R1): undo the flip of the second row before taking the rotation
    rotation, scale = nearest_rotation(np.vstack([block[0], -block[1]]))
    return rotation, scale, camera[3].copy()


def _gauss_newton(target, w, mean, identity_rows, expression_rows, config: FitConfig):
    n_id, n_ex = len(identity_rows), len(expression_rows)
    n_pose = 6  # rotation increment (3), scale, shift (2)
    n = n_pose + n_id + n_ex
    rotation, scale, shift = _affine_start(target, w, mean)
    a = np.zeros(n_id)
    e = np.zeros(n_ex)
    row_weights = np.repeat(w, 2)
    # prior curvature and the L1 slope, times noise^2 so the data term is the plain squared distance
    noise2 = config.noise**2
    prior = np.zeros(n)
    prior[n_pose : n_pose + n_id] = noise2
    prior[n_pose + n_id :] = noise2 * config.expression_l2
    slope = np.zeros(n)
    slope[n_pose + n_id :] = noise2 * config.expression_l1
    lower = np.full(n, -np.inf)
    upper = np.full(n, np.inf)
    iterations = 0
    for iterations in range(1, config.iterations + 1):
        shape = mean + np.tensordot(a, identity_rows, axes=1) + np.tensordot(e, expression_rows, axes=1)
        rotated = shape @ rotation.T
        projected = scale * rotated[:, :2] * [1.0, -1.0] + shift
        residual = (projected - target).reshape(-1)
        camera = scale * (FLIP @ rotation)  # (2, 3)
        jac = np.empty((68, 2, n))
        x, yy, z = rotated[:, 0], rotated[:, 1], rotated[:, 2]
        zero = np.zeros(68)
        # p = s FLIP (exp([v]x) R X) + t; d/dv of (v x Y) is -[Y]x
        jac[:, 0, 0:3] = scale * np.stack([zero, z, -yy], axis=1)
        jac[:, 1, 0:3] = scale * np.stack([z, zero, -x], axis=1)
        jac[:, 0, 3], jac[:, 1, 3] = x, -yy
        jac[:, :, 4:6] = np.eye(2)
        jac[:, :, n_pose : n_pose + n_id] = np.einsum("kpc,dc->pdk", identity_rows, camera)
        jac[:, :, n_pose + n_id :] = np.einsum("kpc,dc->pdk", expression_rows, camera)
        jac = jac.reshape(136, n)
        weighted = jac * row_weights[:, None]
        hessian = weighted.T @ jac
        hessian[np.diag_indices(n)] += prior + 1e-9
        params = np.concatenate([np.zeros(n_pose), a, e])
        gradient = weighted.T @ residual + prior * params + slope
        lower[n_pose + n_id :] = -e
        upper[n_pose + n_id :] = 1.0 - e
        step = box_qp(hessian, gradient, lower, upper)
        rotation = rodrigues(step[0:3]) @ rotation
        scale += step[3]
        shift = shift + step[4:6]
        a = a + step[n_pose : n_pose + n_id]
        e = np.clip(e + step[n_pose + n_id :], 0.0, 1.0)
        if np.max(np.abs(step)) < config.tolerance:
            break
    return rotation, float(scale), shift, a, e, iterations


def box_qp(hessian: np.ndarray, gradient: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """argmin 0.5 x'Hx + g'x subject to lower <= x <= upper (H positive definite, 0 feasible).

    A primal active-set method: solve with the variables at a bound held there, walk towards
    that solution until a bound blocks (hold it), and release a held variable whose multiplier
    says it wants back inside. Exact in finitely many steps; the fit's problems (< 100
    unknowns, most bounds inactive after the first Gauss-Newton step) take a handful.
    """
    n = len(gradient)
    x = np.zeros(n)
    at_lower = lower == 0.0
    at_upper = (upper == 0.0) & ~at_lower
    for _ in range(4 * n + 10):
        held = at_lower | at_upper
        free = ~held
        candidate = x.copy()
        if free.any():
            rhs = -(gradient[free] + hessian[np.ix_(free, held)] @ x[held])
            candidate[free] = np.linalg.solve(hessian[np.ix_(free, free)], rhs)
        direction = candidate - x
        below = free & (candidate < lower)
        above = free & (candidate > upper)
        if below.any() or above.any():
            ratios = np.full(n, np.inf)
            ratios[below] = (lower[below] - x[below]) / direction[below]
            ratios[above] = (upper[above] - x[above]) / direction[above]
            blocking = int(np.argmin(ratios))
            x = x + max(0.0, float(ratios[blocking])) * direction
            if below[blocking]:
                x[blocking] = lower[blocking]
                at_lower[blocking] = True
            else:
                x[blocking] = upper[blocking]
                at_upper[blocking] = True
            continue
        x = candidate
        slope = hessian @ x + gradient
        wants_in = np.where(at_lower, -slope, 0.0) + np.where(at_upper, slope, 0.0)
        worst = int(np.argmax(wants_in))
        if wants_in[worst] <= 1e-12:
            break
        at_lower[worst] = at_upper[worst] = False
    return np.clip(x, lower, upper)
