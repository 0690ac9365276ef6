"""README figures for a model, on held-out people only.

    python scripts/make_figures.py --model london-128 --prepared prepared/london-128-default

docs/<name>-heldout.jpg   one row per (person, direction): input | generated landmarks | output | real target
docs/<name>-intensity.png one held-out person, intensity 0 -> 1 (landmark displacement fraction)
docs/<name>-photo.png     a full example photo before and after, the face pasted back
docs/<name>-fullres.jpg   held-out people at full resolution: zoomed input | output | their real smiling photo,
                          then the mouth and an eye at the photo's own pixels (1:1), input above output
                          (needs --london ../shared/datasets/london)
docs/<name>-shading.jpg   for a model with `shading: face-model`: zoomed input | without | with the skin's change
                          of light | real smiling photo, then the cheeks and folds at 1:1, without above with

For a model trained with intensity levels (Eq. 10; e.g. on lgan synth data) instead:

    python scripts/make_figures.py --model runs/00002-ict-synth-128 --prepared prepared/ict-synth-128 \
        --sweep-person synth0000 \
        --photo examples/synth0000_neutral.png --expression surprised

For a model of every expression on real photos (geometry targets; london-all-warp-128):

    python scripts/make_figures.py --model london-all-warp-128 --prepared prepared/london-128-default \
        --expressions-photo ../shared/datasets/london/neutral_front/042_03.jpg

docs/<name>-expressions.jpg  the photo x every expression: zoomed full-resolution faces at levels 1..4 and the
                             geometry-only baseline
docs/<name>-aus.jpg          the photo with action-unit mixes (`lgan edit --au`)
docs/<name>-mouths.jpg       opened mouths at 1:1 pixels: the 3D model's interior, G_e's colours and the
                             geometry-only baseline (with --london ../shared/datasets/london)
docs/<name>-smiling.jpg      held-out smiling photos (teeth, squinting eyes) made every other way (with --london)

docs/<name>-levels.png    one held-out person: neutral input | levels 1..4 | real level-4 render, per expression
docs/<name>-photo.png     the photo with --expression at levels 1..4 through the full pipeline (pasted back)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from lgan_cli.data.prepared import PreparedDataset
from lgan_cli.editing import AlignedFace, compose, edit_crops, find_faces
from lgan_cli.faces.decode import load_image, save_image
from lgan_cli.faces.detect import FaceDetector
from lgan_cli.models.load import load_editor

REPO = Path(__file__).resolve().parents[1]
TILE = 192
PHOTO_HEIGHT = 640


def tile(picture: np.ndarray, label: str | None = None) -> np.ndarray:
    scaled = cv2.resize(picture, (TILE, TILE), interpolation=cv2.INTER_CUBIC)
    if label:
        band = np.full((22, TILE, 3), 255, np.uint8)
        cv2.putText(band, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        scaled = np.vstack([band, scaled])
    return scaled


def gap(height: int, width: int = 6) -> np.ndarray:
    return np.full((height, width, 3), 255, np.uint8)


def aligned(item) -> AlignedFace:
    return AlignedFace(face=None, alignment=None, crop=item.load_crop(), points=item.points68)


def heldout_figure(editor, dataset: PreparedDataset, people: int) -> np.ndarray:
    pairs = dataset.pairs("test")
    chosen_ids = sorted({s.identity for s, _ in pairs})[:people]
    rows = []
    for person in chosen_ids:
        for source, target in [p for p in pairs if p[0].identity == person]:
            (result,) = edit_crops(editor, [(aligned(source), target.expression, None)], torch.device("cpu"))
            labels = ("input", "generated landmarks", "output", "real target photo") if not rows else (None,) * 4
            pictures = [source.load_crop(), result.landmark_image(), result.crop, target.load_crop()]
            tiles = [tile(picture, label) for picture, label in zip(pictures, labels)]
            row = np.hstack(
                [
                    tiles[0],
                    gap(tiles[0].shape[0]),
                    tiles[1],
                    gap(tiles[0].shape[0]),
                    tiles[2],
                    gap(tiles[0].shape[0]),
                    tiles[3],
                ]
            )
            rows.append(row)
            rows.append(np.full((6, row.shape[1], 3), 255, np.uint8))
    return np.vstack(rows[:-1])


def intensity_figure(editor, dataset: PreparedDataset, person: str, expression: str, steps: int = 5) -> np.ndarray:
    source = next(s for s, t in dataset.pairs("test") if s.identity == person and t.expression == expression)
    face = aligned(source)
    tiles = [tile(face.crop, "a = 0 (input)")]
    for index in range(1, steps):
        fraction = index / (steps - 1)
        (result,) = edit_crops(editor, [(face, expression, fraction)], torch.device("cpu"))
        tiles.append(tile(result.crop, f"a = {fraction:g}"))
    parts = []
    for t in tiles:
        parts += [t, gap(t.shape[0])]
    return np.hstack(parts[:-1])


def levels_figure(editor, dataset: PreparedDataset, person: str) -> np.ndarray:
    """Rows: the person's expressions (neutral source); columns: input, levels 1..4, real level 4."""
    pairs = [(s, t) for s, t in dataset.pairs("test", "neutral") if s.identity == person and s.expression == "neutral"]
    if not pairs:
        raise SystemExit(f"no held-out pairs from neutral for {person}")
    face = aligned(pairs[0][0])
    rows = []
    for expression in sorted({t.expression for _, t in pairs}):
        real = next(t for _, t in pairs if t.expression == expression and t.intensity == 4)
        outputs = edit_crops(editor, [(face, expression, level) for level in range(1, 5)], torch.device("cpu"))
        tiles = [tile(face.crop, "input")]
        tiles += [tile(result.crop, f"{expression} {level}") for level, result in enumerate(outputs, 1)]
        tiles.append(tile(real.load_crop(), f"real {expression} 4"))
        parts = []
        for t in tiles:
            parts += [t, gap(t.shape[0])]
        row = np.hstack(parts[:-1])
        rows += [row, np.full((6, row.shape[1], 3), 255, np.uint8)]
    return np.vstack(rows[:-1])


def photo_levels_figure(editor, photo: Path, expression: str) -> np.ndarray:
    """The photo, then the full pipeline's output at levels 1..4 (pasted back), side by side."""
    rgb = load_image(photo)
    with FaceDetector() as detector:
        faces = find_faces(detector, rgb, editor.resolution, "largest", str(photo))
    pictures = [rgb] + [
        compose(rgb, edit_crops(editor, [(faces[0], expression, level)], torch.device("cpu"))) for level in range(1, 5)
    ]
    labels = ["input"] + [f"--intensity {level}" for level in range(1, 5)]
    size = (PHOTO_HEIGHT // 2, PHOTO_HEIGHT // 2)
    parts = []
    for picture, label in zip(pictures, labels):
        small = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
        band = np.full((26, size[0], 3), 255, np.uint8)
        cv2.putText(band, label, (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
        parts += [np.vstack([band, small]), gap(size[1] + 26, 8)]
    return np.hstack(parts[:-1])


def photo_figure(editor, photo: Path, expression: str) -> np.ndarray:
    rgb = load_image(photo)
    with FaceDetector() as detector:
        faces = find_faces(detector, rgb, editor.resolution, "largest", str(photo))
    edited = compose(rgb, edit_crops(editor, [(faces[0], expression, None)], torch.device("cpu")))
    scale = PHOTO_HEIGHT / rgb.shape[0]
    size = (round(rgb.shape[1] * scale), PHOTO_HEIGHT)
    before = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    after = cv2.resize(edited, size, interpolation=cv2.INTER_AREA)
    return np.hstack([before, gap(PHOTO_HEIGHT, 10), after])


def fullres_figure(editor, london: Path, people: list[str], expression: str) -> np.ndarray:
    """Per held-out person: zoomed faces (input | output | real smiling photo) and 1:1 details."""
    from lgan_cli.eval.photos import SHEET_HEIGHT, zoomed_faces

    rows = []
    with FaceDetector() as detector:
        for person in people:
            rgb = load_image(london / "neutral_front" / f"{person}_03.jpg")
            real = load_image(london / "smiling_front" / f"{person}_08.jpg")
            face = find_faces(detector, rgb, editor.resolution, "largest", person)[0]
            real_points = detector.detect(real)[0].points68
            edited = compose(rgb, edit_crops(editor, [(face, expression, None)], torch.device("cpu")))
            zooms = zoomed_faces([rgb, edited], face.face.points68) + zoomed_faces([real], real_points)
            details = [
                _detail_pair(rgb, edited, face.face.points68, indices) for indices in (range(48, 68), range(36, 42))
            ]
            parts = []
            for picture in [*zooms, *details]:
                parts += [picture, gap(SHEET_HEIGHT)]
            row = np.hstack(parts[:-1])
            rows += [row, np.full((6, row.shape[1], 3), 255, np.uint8)]
    header = np.full((26, rows[0].shape[1], 3), 255, np.uint8)
    x = 0
    for label, width in zip(
        ("input", "output", "real smiling photo", "mouth 1:1 (in / out)", "eye 1:1 (in / out)"),
        [SHEET_HEIGHT] * 3 + [SHEET_HEIGHT // 2 * 3] * 2,
    ):
        cv2.putText(header, label, (x + 4, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        x += width + 6
    return np.vstack([header, *rows[:-1]])


def shading_figure(editor, london: Path, people: list[str], expression: str) -> np.ndarray:
    """Per held-out person: zoomed faces (input | no shading | shaded | real smiling photo) and the
    lower face at 1:1 (without above, with below)."""
    from lgan_cli.eval.photos import SHEET_HEIGHT, zoomed_faces
    from lgan_cli.models.editor import LandmarkGANEditor

    plain = LandmarkGANEditor(editor.model, editor.name, shading="none")
    rows = []
    with FaceDetector() as detector:
        for person in people:
            rgb = load_image(london / "neutral_front" / f"{person}_03.jpg")
            real = load_image(london / "smiling_front" / f"{person}_08.jpg")
            face = find_faces(detector, rgb, editor.resolution, "largest", person)[0]
            real_points = detector.detect(real)[0].points68
            edited = [
                compose(rgb, edit_crops(model, [(face, expression, None)], torch.device("cpu")))
                for model in (plain, editor)
            ]
            zooms = zoomed_faces([rgb, *edited], face.face.points68) + zoomed_faces([real], real_points)
            cheeks = _detail_pair(*edited, face.face.points68, [1, 15, 31, 35, 48, 54], scale=2)
            parts = []
            for picture in [*zooms, cheeks]:
                parts += [picture, gap(SHEET_HEIGHT)]
            row = np.hstack(parts[:-1])
            rows += [row, np.full((6, row.shape[1], 3), 255, np.uint8)]
    header = np.full((26, rows[0].shape[1], 3), 255, np.uint8)
    x = 0
    labels = ("input", "no shading", "skin shading", "real smiling photo", "cheeks 1:1 (without / with)")
    for label, width in zip(labels, [SHEET_HEIGHT] * 4 + [SHEET_HEIGHT * 3]):
        cv2.putText(header, label, (x + 4, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        x += width + 6
    return np.vstack([header, *rows[:-1]])


def expressions_figure(editor, photo: Path, expressions: list[str], cell: int = 256) -> np.ndarray:
    """One real photo x every expression: zoomed faces of the full-resolution output at levels
    1..4, then the geometry-only baseline at level 4 (no learning: the 3D model's points, warped)."""
    from lgan_cli.eval.photos import zoomed_faces
    from lgan_cli.models.geometry_editor import GeometryEditor

    rgb = load_image(photo)
    baseline = GeometryEditor()
    with FaceDetector() as detector:
        face = find_faces(detector, rgb, editor.resolution, "largest", str(photo))[0]
        face_256 = find_faces(detector, rgb, baseline.resolution, "largest", str(photo))[0]
    device = torch.device("cpu")
    labels = ["input", *[f"level {level}" for level in range(1, 5)], "geometry only, 4"]
    rows = [_label_band(labels, cell)]
    for expression in expressions:
        pictures = [rgb] + [
            compose(rgb, edit_crops(editor, [(face, expression, level)], device)) for level in range(1, 5)
        ]
        pictures.append(compose(rgb, edit_crops(baseline, [(face_256, expression, 4)], device)))
        zooms = [
            cv2.resize(z, (cell, cell), interpolation=cv2.INTER_AREA)
            for z in zoomed_faces(pictures, face.face.points68)
        ]
        row = np.hstack([z for picture in zooms for z in (picture, gap(cell))][:-1])
        name_band = np.full((22, row.shape[1], 3), 255, np.uint8)
        cv2.putText(name_band, expression, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        rows += [name_band, row]
    return np.vstack(rows)


def aus_figure(editor, photo: Path, mixes: list[str], cell: int = 256) -> np.ndarray:
    """The photo with FACS action-unit mixes (`lgan edit --au`), zoomed faces at full resolution."""
    from lgan_cli.eval.photos import zoomed_faces
    from lgan_cli.geometry.aus import parse_au_spec
    from lgan_cli.models.load import with_action_units

    rgb = load_image(photo)
    with FaceDetector() as detector:
        face = find_faces(detector, rgb, editor.resolution, "largest", str(photo))[0]
    pictures = [rgb]
    for mix in mixes:
        expression, _, spec = mix.rpartition(":")
        au_editor = with_action_units(editor, parse_au_spec(spec))
        pictures.append(
            compose(rgb, edit_crops(au_editor, [(face, expression or "neutral", None)], torch.device("cpu")))
        )
    zooms = [
        cv2.resize(z, (cell, cell), interpolation=cv2.INTER_AREA) for z in zoomed_faces(pictures, face.face.points68)
    ]
    labels = [
        "input",
        *[f"--au {m.rpartition(':')[2]}" + (f" --expr {m.rpartition(':')[0]}" if ":" in m else "") for m in mixes],
    ]
    return np.vstack(
        [_label_band(labels, cell), np.hstack([z for picture in zooms for z in (picture, gap(cell))][:-1])]
    )


def mouths_figure(editor, london: Path, people: list[str], expressions: list[str]) -> np.ndarray:
    """Opened mouths at the photo's own pixels (1:1): for each held-out person, the model as
    shipped (the 3D model's interior), its G_e colours (`--mouth learned`) and the geometry-only
    baseline (nothing drawn), one column per expression at level 4."""
    from lgan_cli.models.geometry_editor import GeometryEditor
    from lgan_cli.models.load import with_inference_settings

    width, height = 300, 190
    methods = {
        "as shipped (3D model's mouth)": editor,
        "--mouth learned (G_e's colours)": with_inference_settings(editor, mouth_interior="learned"),
        "geometry only": GeometryEditor(),
    }
    device = torch.device("cpu")
    rows = [_label_band(["", *expressions], width)]
    with FaceDetector() as detector:
        for person in people:
            rgb = load_image(london / "neutral_front" / f"{person}_03.jpg")
            for label, method in methods.items():
                face = find_faces(detector, rgb, method.resolution, "largest", person)[0]
                points = face.face.points68
                centre = points[48:68].mean(axis=0)
                x0 = int(np.clip(centre[0] - width // 2, 0, rgb.shape[1] - width))
                y0 = int(np.clip(centre[1] - height // 2, 0, rgb.shape[0] - height))
                cells = [np.full((height, width, 3), 255, np.uint8)]
                cv2.putText(cells[0], person, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
                for number, line in enumerate(label.split(" (")):
                    text = line if number == 0 else f"({line}"
                    cv2.putText(cells[0], text, (8, 60 + 22 * number), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
                for expression in expressions:
                    result = compose(rgb, edit_crops(method, [(face, expression, 4)], device))
                    cells.append(result[y0 : y0 + height, x0 : x0 + width])
                rows.append(np.hstack([c for cell in cells for c in (cell, gap(height))][:-1]))
            rows.append(np.full((6, rows[-1].shape[1], 3), 255, np.uint8))
    return np.vstack(rows[:-1])


def smiling_figure(editor, london: Path, people: list[str], expressions: list[str], cell: int = 256) -> np.ndarray:
    """Held-out people's smiling photos (teeth showing, eyes squinting) made every other way:
    zoomed full-resolution faces, then `--mouth learned`'s neutral (the photo's teeth squeezed by
    the warp) and the person's real neutral photo for reference."""
    from lgan_cli.eval.photos import zoomed_faces
    from lgan_cli.models.load import with_inference_settings

    learned = with_inference_settings(editor, mouth_interior="learned")
    device = torch.device("cpu")
    labels = ["smiling input", *expressions, "neutral, --mouth learned", "real neutral photo"]
    rows = [_label_band(labels, cell)]
    with FaceDetector() as detector:
        for person in people:
            rgb = load_image(london / "smiling_front" / f"{person}_08.jpg")
            face = find_faces(detector, rgb, editor.resolution, "largest", person)[0]
            pictures = [rgb] + [compose(rgb, edit_crops(editor, [(face, e, None)], device)) for e in expressions]
            pictures.append(compose(rgb, edit_crops(learned, [(face, "neutral", None)], device)))
            zooms = zoomed_faces(pictures, face.face.points68)
            real = load_image(london / "neutral_front" / f"{person}_03.jpg")
            zooms.append(zoomed_faces([real], detector.detect(real)[0].points68)[0])
            cells = [cv2.resize(z, (cell, cell), interpolation=cv2.INTER_AREA) for z in zooms]
            rows.append(np.hstack([c for picture in cells for c in (picture, gap(cell))][:-1]))
            rows.append(np.full((6, rows[-1].shape[1], 3), 255, np.uint8))
    return np.vstack(rows[:-1])


def _label_band(labels: list[str], cell: int) -> np.ndarray:
    band = np.full((24, len(labels) * (cell + 6) - 6, 3), 255, np.uint8)
    for index, label in enumerate(labels):
        cv2.putText(band, label, (index * (cell + 6) + 4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return band


def _detail_pair(before: np.ndarray, after: np.ndarray, points: np.ndarray, indices, scale: int = 1) -> np.ndarray:
    """The same window around some landmarks at the photo's own pixels, input above output
    (`scale` times the usual width)."""
    from lgan_cli.eval.photos import SHEET_HEIGHT

    height, width = SHEET_HEIGHT // 2, SHEET_HEIGHT // 2 * 3 * scale
    centre = np.round(points[list(indices)].mean(axis=0)).astype(int)
    x0 = int(np.clip(centre[0] - width // 2, 0, before.shape[1] - width))
    y0 = int(np.clip(centre[1] - height // 2, 0, before.shape[0] - height))
    return np.vstack([before[y0 : y0 + height, x0 : x0 + width], after[y0 : y0 + height, x0 : x0 + width]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--prepared", required=True, type=Path)
    parser.add_argument("--name", default=None, help="figure file prefix [the model name]")
    parser.add_argument("--people", type=int, default=4)
    parser.add_argument("--sweep-person", default="030")
    parser.add_argument("--expression", default="happy")
    parser.add_argument("--photo", type=Path, default=REPO / "examples" / "london_001_neutral.jpg")
    parser.add_argument("--london", type=Path, default=None, help="the London set, for the full-resolution figure")
    parser.add_argument(
        "--fullres-people", default="001,042,064", help="held-out people for the full-resolution figure"
    )
    parser.add_argument(
        "--smiling-people", default="025,030,117", help="held-out people whose smiling photos show teeth"
    )
    parser.add_argument(
        "--expressions-photo",
        type=Path,
        default=None,
        help="a held-out real photo: every expression at levels 1..4 and AU mixes "
        "(docs/<name>-expressions.jpg, -aus.jpg)",
    )
    args = parser.parse_args()
    editor = load_editor(args.model, torch.device("cpu"))
    dataset = PreparedDataset.load(args.prepared)
    name = args.name or editor.name
    docs = REPO / "docs"
    docs.mkdir(exist_ok=True)
    if args.expressions_photo:  # a model for every expression on real photos
        known = [e for e in editor.expressions if e != "neutral"]
        outputs = {
            docs / f"{name}-expressions.jpg": expressions_figure(editor, args.expressions_photo, known),
            docs / f"{name}-aus.jpg": aus_figure(
                editor, args.expressions_photo, ["12=1,6=1", "26=1", "1=1,2=1,5=0.6", "4=1,7=0.6", "happy:26=0.6"]
            ),
        }
        if args.london:
            opened = ["angry", "disgusted", "fearful", "surprised", "happy"]
            people = args.fullres_people.split(",")
            outputs[docs / f"{name}-mouths.jpg"] = mouths_figure(editor, args.london, people, opened)
            targets = ["neutral", "happy", "sad", "surprised", "angry", "fearful"]
            smiling = args.smiling_people.split(",")
            outputs[docs / f"{name}-smiling.jpg"] = smiling_figure(editor, args.london, smiling, targets)
    elif editor.model.config.intensity_levels:
        outputs = {
            docs / f"{name}-levels.png": levels_figure(editor, dataset, args.sweep_person),
            docs / f"{name}-photo.png": photo_levels_figure(editor, args.photo, args.expression),
        }
    else:
        outputs = {
            docs / f"{name}-heldout.jpg": heldout_figure(editor, dataset, args.people),
            docs / f"{name}-intensity.png": intensity_figure(editor, dataset, args.sweep_person, args.expression),
            docs / f"{name}-photo.png": photo_figure(editor, args.photo, args.expression),
        }
        if args.london:
            people = args.fullres_people.split(",")
            outputs[docs / f"{name}-fullres.jpg"] = fullres_figure(editor, args.london, people, args.expression)
            if getattr(editor, "shading", "none") == "face-model":
                outputs[docs / f"{name}-shading.jpg"] = shading_figure(editor, args.london, people, args.expression)
    for path, picture in outputs.items():
        save_image(np.ascontiguousarray(picture), path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
