"""Small faces: MediaPipe sees the whole image at 128 px, so a face narrower than about a tenth
of the photo is searched for again in overlapping tiles (`faces.detect`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lgan_cli.faces.detect import box_overlap, cut_by_tile, distinct_faces, tiles


def test_tiles_hold_every_box_of_half_their_side_whole():
    width, height, side = 1000, 620, 400
    found = tiles(width, height, side)
    assert all(0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height for x0, y0, x1, y1 in found)
    rng = np.random.default_rng(0)
    for _ in range(500):  # any face up to half a tile's side lies inside some tile
        x, y = rng.uniform(0, width - side / 2), rng.uniform(0, height - side / 2)
        box = (x, y, x + side / 2, y + side / 2)
        assert any(x0 <= box[0] and y0 <= box[1] and box[2] <= x1 and box[3] <= y1 for x0, y0, x1, y1 in found)
    assert tiles(300, 200, 400) == [(0, 0, 300, 200)]  # an image smaller than a tile is one tile


def test_a_face_at_a_tiles_inner_edge_is_left_to_its_neighbour():
    tile = (400, 0, 800, 400)  # in a 1200 x 400 image: left and right edges are inner, top and bottom are the border
    assert cut_by_tile((2.0, 100.0, 80.0, 180.0), tile, 1200, 400)  # at the inner left edge
    assert cut_by_tile((330.0, 100.0, 399.0, 180.0), tile, 1200, 400)  # at the inner right edge
    assert not cut_by_tile((100.0, 0.0, 180.0, 80.0), tile, 1200, 400)  # at the image's top border
    assert not cut_by_tile((100.0, 100.0, 180.0, 180.0), tile, 1200, 400)


def test_overlapping_detections_are_one_face(example_photos, detector):
    from dataclasses import replace

    from lgan_cli.faces.decode import load_image
    from lgan_cli.faces.detect import shifted

    face = detector.detect(load_image(example_photos[0]))[0]
    moved, far = shifted(face, 3, 2), shifted(face, 2000, 0)
    inside = replace(face, mesh=(face.mesh - face.mesh.mean(0)) * 0.4 + face.mesh.mean(0))  # a 'face' within the face
    assert box_overlap(face.box, moved.box) > 0.9 and box_overlap(face.box, far.box) == 0
    assert box_overlap(face.box, inside.box) == 1.0
    assert distinct_faces([face, inside, moved, far]) == [face, far]  # the first of each face is kept


def test_every_face_also_finds_the_small_ones_beside_a_large_one(example_photos, detector):
    """`--face all` on a group photo: a 300 px face, which the whole-image pass finds, and a
    72 px one, which it does not; and a selfie-tight face is still one face."""
    from lgan_cli.editing import find_faces
    from lgan_cli.faces.decode import load_image

    photo = load_image(next(p for p in example_photos if p.name == "london_042_neutral.jpg"))
    canvas = np.full((1500, 2000, 3), 190, np.uint8)
    large = cv2.resize(photo, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    small = cv2.resize(photo, None, fx=0.12, fy=0.12, interpolation=cv2.INTER_AREA)
    canvas[100 : 100 + large.shape[0], 100 : 100 + large.shape[1]] = large
    canvas[900 : 900 + small.shape[0], 1500 : 1500 + small.shape[1]] = small
    assert len(detector.detect(canvas)) == 1
    faces = detector.detect(canvas, every_face=True)
    assert len(faces) == 2
    x0, y0, x1, y1 = faces[1].box
    assert 1500 < x0 < x1 < 1500 + small.shape[1] and 900 < y0 < y1 < 900 + small.shape[0]
    (second,) = find_faces(detector, canvas, 128, 1, "group.png")  # --face 1 asks for every face too
    assert np.array_equal(second.face.points68, faces[1].points68)
    x0, y0, x1, y1 = (int(v) for v in detector.detect(photo)[0].box)
    selfie = photo[max(0, y0 - 80) : y1 + 80, max(0, x0 - 120) : x1 + 120]
    assert len(detector.detect(np.ascontiguousarray(selfie), every_face=True)) == 1


@pytest.mark.parametrize("scale", [0.2, 0.08])
def test_a_small_face_in_a_large_photo_is_found_where_it_is(example_photos, detector, scale):
    """The example photo shrunk into a 2000 x 1500 canvas: a face of about 120 and 48 px, which
    the whole-image pass misses. The tiles find it, its 68 points within 4 % of the face's width
    of the full-size photo's, scaled and moved."""
    from lgan_cli.faces.decode import load_image

    photo = load_image(next(p for p in example_photos if p.name == "london_042_neutral.jpg"))
    reference = detector.detect(photo)[0].points68
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((1500, 2000, 3), 190, np.uint8)
    left, top = 1237, 611
    canvas[top : top + small.shape[0], left : left + small.shape[1]] = small
    assert detector._detect_whole(canvas) == []
    faces = detector.detect(canvas)
    assert len(faces) == 1
    expected = (reference + 0.5) * scale - 0.5 + [left, top]
    face_width = np.ptp(expected[:, 0])
    assert np.linalg.norm(faces[0].points68 - expected, axis=1).mean() < 0.04 * face_width


def test_a_photo_without_a_face_still_has_none(detector):
    from lgan_cli.errors import NoFaceError
    from lgan_cli.faces.detect import select_faces

    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.integers(0, 256, (1200, 1600, 3), dtype=np.uint8), (0, 0), 3)
    faces = detector.detect(noise)
    assert faces == []
    with pytest.raises(NoFaceError, match="no face found"):
        select_faces(faces, "largest", "noise.png")


def test_the_tiles_find_no_face_where_a_face_was_painted_over(london_root, monkeypatch):
    """Hundreds of small tiles give a loose threshold hundreds of chances: with the face of a
    London photo painted over and the photo enlarged to 4000 px, MediaPipe at its usual 0.5 finds
    an ear or a shirt as a face in some tiles; at TILE_CONFIDENCE, nothing."""
    import lgan_cli.faces.detect as detect
    from lgan_cli.faces.decode import load_image

    painted = []
    with detect.FaceDetector() as detector:
        for person in ("007", "016"):
            rgb = load_image(london_root / "neutral_front" / f"{person}_03.jpg")
            x0, y0, x1, y1 = (int(v) for v in detector.detect(rgb)[0].box)
            background = tuple(int(v) for v in rgb[5, 5])
            axes = ((x1 - x0) // 2 + 30, (y1 - y0) // 2 + 40)
            cv2.ellipse(rgb, ((x0 + x1) // 2, (y0 + y1) // 2), axes, 0, 0, 360, background, -1)
            painted.append(cv2.resize(rgb, (4000, 4000)))
    found = {}
    for confidence in (0.5, detect.TILE_CONFIDENCE):
        monkeypatch.setattr(detect, "TILE_CONFIDENCE", confidence)
        with detect.FaceDetector() as detector:
            found[confidence] = [len(detector.detect(photo)) for photo in painted]
    shipped = max(found)
    assert found[0.5] == [1, 1] and found[shipped] == [0, 0]
