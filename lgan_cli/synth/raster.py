"""A CPU triangle rasterizer in vectorised numpy: z-buffer, perspective-correct barycentrics.

Why not OpenGL: the synthetic data set must build on any machine (CI, a headless server)
with nothing but numpy, and give the same pixels for the same seed everywhere. A face mesh
at 128-512 px has triangles of a few pixels each, so instead of scan-converting triangle
by triangle, every triangle's bounding box is expanded into candidate pixels at once, the
candidates are tested with edge functions, and the z-buffer is one scatter-min
(`np.minimum.at`) over integer keys that pack (quantised depth, triangle id): the nearest
fragment wins, ties go to the lower triangle id, so the result is fully deterministic.

Conventions: pixel centres at integer coordinates (OpenCV's), x right, y down. `depth` is
the camera-space distance along the viewing axis (w); it must be positive in front of the
camera. Barycentrics are interpolated linearly in 1/w, i.e. perspective-correct; pass a
constant depth for an orthographic or texture-space (UV) rasterization.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEAR = 1e-6
_TRI_BITS = 24  # triangle ids below 2**24 (16.7 M triangles)
_DEPTH_LEVELS = 2**36  # depth quantisation; 36 + 24 bits fit an int64 key
_EMPTY = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Fragments:
    """What each pixel sees: triangle id (-1: nothing), barycentrics of its corners, depth."""

    triangle: np.ndarray  # (H, W) int32
    bary: np.ndarray  # (H, W, 3) float32, perspective-correct, rows sum to 1 on covered pixels
    depth: np.ndarray  # (H, W) float32, +inf where nothing is covered

    @property
    def mask(self) -> np.ndarray:
        return self.triangle >= 0

    def interpolate(self, corner_values: np.ndarray) -> np.ndarray:
        """Per-pixel values from per-triangle-corner values (T, 3, C) -> (H, W, C); 0 off the mesh."""
        height, width = self.triangle.shape
        out = np.zeros((height, width, corner_values.shape[-1]), dtype=np.float32)
        covered = self.mask
        tri = self.triangle[covered]
        weights = self.bary[covered]
        out[covered] = np.einsum("nk,nkc->nc", weights, corner_values[tri].astype(np.float32))
        return out


def signed_area2(xy: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Twice the signed screen area of each triangle, in pixel coordinates (y down).

    Negative for a triangle whose corners run counter-clockwise as the image is displayed, which
    is how an OBJ front face (counter-clockwise seen from outside) appears to the camera: hence
    `rasterize`'s default front_sign of -1.
    """
    p0, p1, p2 = (xy[triangles[:, i]].astype(np.float64) for i in range(3))
    return (p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1]) - (p2[:, 0] - p0[:, 0]) * (p1[:, 1] - p0[:, 1])


def rasterize(
    xy: np.ndarray,
    depth: np.ndarray,
    triangles: np.ndarray,
    size: tuple[int, int],
    cull_back: bool = True,
    front_sign: float = -1.0,
) -> Fragments:
    """Rasterize triangles (T, 3) of screen vertices `xy` (N, 2) with view depths `depth` (N,).

    `size` is (height, width). With `cull_back`, triangles whose signed area has the sign
    opposite to `front_sign` (see `signed_area2`) are dropped. Returns the visible fragment
    of every pixel.
    """
    height, width = size
    xy = np.asarray(xy, dtype=np.float64)
    depth = np.asarray(depth, dtype=np.float64)
    triangles = np.asarray(triangles, dtype=np.int64)
    if len(triangles) >= 2**_TRI_BITS:
        raise ValueError(f"at most {2**_TRI_BITS - 1} triangles, got {len(triangles)}")
    empty = Fragments(
        np.full((height, width), -1, dtype=np.int32),
        np.zeros((height, width, 3), np.float32),
        np.full((height, width), np.inf, np.float32),
    )
    if len(triangles) == 0:
        return empty

    # per-triangle setup (float64): bounding boxes, culling
    corner_x, corner_y = xy[triangles, 0], xy[triangles, 1]  # (T, 3) each
    area = (corner_x[:, 1] - corner_x[:, 0]) * (corner_y[:, 2] - corner_y[:, 0]) - (corner_x[:, 2] - corner_x[:, 0]) * (
        corner_y[:, 1] - corner_y[:, 0]
    )
    tri_depth = depth[triangles]
    x_lo = np.maximum(np.ceil(corner_x.min(axis=1)), 0)
    x_hi = np.minimum(np.floor(corner_x.max(axis=1)), width - 1)
    y_lo = np.maximum(np.ceil(corner_y.min(axis=1)), 0)
    y_hi = np.minimum(np.floor(corner_y.max(axis=1)), height - 1)
    keep = (x_hi >= x_lo) & (y_hi >= y_lo) & (np.abs(area) > 1e-12) & (tri_depth.min(axis=1) > NEAR)
    if cull_back:
        keep &= area * front_sign > 0
    ids = np.nonzero(keep)[0]
    if len(ids) == 0:
        return empty
    plane = _edge_planes(corner_x[ids], corner_y[ids], area[ids], x_lo[ids], y_lo[ids])
    inv_depth = 1.0 / tri_depth[ids]
    # 1/w as a plane over the box too: l0 / w0 + l1 / w1 + (1 - l0 - l1) / w2
    inv_w_plane = plane[:, 0:3] * (inv_depth[:, 0:1] - inv_depth[:, 2:3]) + plane[:, 3:6] * (
        inv_depth[:, 1:2] - inv_depth[:, 2:3]
    )
    inv_w_plane[:, 2] += inv_depth[:, 2]
    plane32 = np.concatenate([plane, inv_w_plane], axis=1).astype(np.float32)

    # expand every bounding box into candidate pixels (offsets dx, dy from its corner);
    # np.repeat rather than fancy indexing: the candidates of one triangle are contiguous
    box_w = (x_hi[ids] - x_lo[ids]).astype(np.int64) + 1
    box_h = (y_hi[ids] - y_lo[ids]).astype(np.int64) + 1
    counts = box_w * box_h
    total = int(counts.sum())
    local = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    width_of = np.repeat(box_w, counts)
    dy = local // width_of
    dx = local - dy * width_of
    dxf, dyf = dx.astype(np.float32), dy.astype(np.float32)
    coef = np.repeat(plane32, counts, axis=0)  # (n, 9): l0 plane, l1 plane, 1/w plane
    l0 = coef[:, 0] * dxf + coef[:, 1] * dyf + coef[:, 2]
    l1 = coef[:, 3] * dxf + coef[:, 4] * dyf + coef[:, 5]
    inside = (l0 >= _EDGE_EPS) & (l1 >= _EDGE_EPS) & (l0 + l1 <= 1 - _EDGE_EPS)
    if not inside.any():
        return empty
    inv_w = coef[:, 6] * dxf + coef[:, 7] * dyf + coef[:, 8]

    # z-buffer: one scatter-min over (quantised depth, triangle id) keys; nearest = largest 1/w.
    # Candidates outside their triangle keep the empty key, so nothing needs compacting.
    w_lo, w_hi = float(np.min(inv_w, where=inside, initial=np.inf)), float(np.max(inv_w, where=inside, initial=-np.inf))
    scale = (_DEPTH_LEVELS - 1) / max(w_hi - w_lo, 1e-30)
    quantised = np.clip((w_hi - inv_w.astype(np.float64)) * scale, 0, _DEPTH_LEVELS - 1).astype(np.int64)
    keys = np.where(inside, (quantised << _TRI_BITS) | np.repeat(ids, counts), _EMPTY)
    corner_pixel = y_lo[ids].astype(np.int64) * width + x_lo[ids].astype(np.int64)
    pixel = np.repeat(corner_pixel, counts) + dy * width + dx
    buffer = np.full(height * width, _EMPTY, dtype=np.int64)
    np.minimum.at(buffer, pixel, keys)

    covered = buffer != _EMPTY
    winner = (buffer[covered] & (2**_TRI_BITS - 1)).astype(np.int64)
    triangle_map = empty.triangle
    triangle_map.reshape(-1)[covered] = winner

    # barycentrics of the winners only, recomputed in float64 at the pixel centres, made
    # perspective-correct
    flat = np.nonzero(covered)[0]
    wy, wx = flat // width, flat % width
    screen_bary = _barycentrics(corner_x[winner], corner_y[winner], area[winner], wx, wy)
    perspective = screen_bary / tri_depth[winner]
    inv = perspective.sum(axis=1, keepdims=True)
    bary_map = np.zeros((height * width, 3), dtype=np.float32)
    bary_map[flat] = perspective / inv
    depth_map = empty.depth.reshape(-1)
    depth_map[flat] = 1.0 / inv[:, 0]
    return Fragments(triangle_map, bary_map.reshape(height, width, 3), depth_map.reshape(height, width))


_EDGE_EPS = -1e-6  # edges count as inside (no cracks between neighbours; the z-buffer settles ties)


def _edge_planes(cx: np.ndarray, cy: np.ndarray, area: np.ndarray, x0: np.ndarray, y0: np.ndarray) -> np.ndarray:
    """Barycentrics l0, l1 of each triangle as planes a * dx + b * dy + c over pixel offsets
    (dx, dy) from the box corner (x0, y0): (T, 6) = [a0, b0, c0, a1, b1, c1]."""
    # l0 = ((x1 - px)(y2 - py) - (x2 - px)(y1 - py)) / area, linear in (px, py)
    a0 = (cy[:, 1] - cy[:, 2]) / area
    b0 = (cx[:, 2] - cx[:, 1]) / area
    c0 = (cx[:, 1] * cy[:, 2] - cx[:, 2] * cy[:, 1]) / area
    a1 = (cy[:, 2] - cy[:, 0]) / area
    b1 = (cx[:, 0] - cx[:, 2]) / area
    c1 = (cx[:, 2] * cy[:, 0] - cx[:, 0] * cy[:, 2]) / area
    return np.stack([a0, b0, c0 + a0 * x0 + b0 * y0, a1, b1, c1 + a1 * x0 + b1 * y0], axis=1)


def _barycentrics(cx: np.ndarray, cy: np.ndarray, area: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Screen-space barycentrics (n, 3) of points (px, py) in triangles with corners (cx, cy) (n, 3)."""
    x0, x1, x2 = cx[:, 0], cx[:, 1], cx[:, 2]
    y0, y1, y2 = cy[:, 0], cy[:, 1], cy[:, 2]
    w0 = (x1 - px) * (y2 - py) - (x2 - px) * (y1 - py)
    w1 = (x2 - px) * (y0 - py) - (x0 - px) * (y2 - py)
    bary = np.stack([w0, w1, area - w0 - w1], axis=1) / area[:, None]
    return bary


def vertex_visibility(
    points: np.ndarray,
    triangles: np.ndarray,
    direction: np.ndarray,
    resolution: int = 128,
    bias: float = 0.15,
    used: np.ndarray | None = None,
) -> np.ndarray:
    """How unoccluded each point is when looking from far away along -`direction` (a shadow map).

    `direction` points from the surface towards the light. The mesh is rasterized
    orthographically along it at `resolution` px over its extent; a point counts as lit by a
    texel when it lies within `bias` (scene units) of that texel's nearest surface, and its
    visibility is the lit fraction of the 3 x 3 texels around it (percentage-closer filtering:
    soft shadow edges instead of texel staircases). `used` (the ids of the points the triangles
    use) only saves recomputing them. Only faces turned towards the light are drawn: the mesh is
    assumed closed where it matters (a face's far side is never the nearest surface). Returns
    float32 values in 0..1, one per point.
    """
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    helper = np.array([0.0, 1.0, 0.0]) if abs(d[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(helper, d)
    u /= np.linalg.norm(u)
    v = np.cross(d, u)
    pts = np.asarray(points, dtype=np.float64)
    used = np.unique(triangles) if used is None else used
    plane = pts @ np.stack([u, v], axis=1)
    low = plane[used].min(axis=0) - 1e-6
    extent = max(float((plane[used].max(axis=0) - low).max()), 1e-9)
    xy = (plane - low) * ((resolution - 2) / extent) + 0.5
    depth = -(pts @ d)
    depth = depth - depth[used].min() + 1.0
    # (u, v, d) is right-handed, so a face turned towards the light runs counter-clockwise in
    # these y-up coordinates (positive area); faces turned away never hold the nearest surface
    fragments = rasterize(xy, depth, triangles, (resolution, resolution), cull_back=True, front_sign=1.0)
    nearest = np.where(np.isfinite(fragments.depth), fragments.depth, np.float32(3e38))
    padded = np.pad(nearest, 1, mode="edge")
    col = np.clip(np.rint(xy[:, 0]).astype(np.int64), 0, resolution - 1)
    row = np.clip(np.rint(xy[:, 1]).astype(np.int64), 0, resolution - 1)
    threshold = depth - bias
    lit = np.zeros(len(pts), np.float32)
    for dy in range(3):
        for dx in range(3):
            lit += padded[row + dy, col + dx] >= threshold
    return lit / 9.0
