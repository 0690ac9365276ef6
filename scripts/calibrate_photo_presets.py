"""How the photo presets read at other gains: the geometry-only floor (or a model) on neutral photos.

    python scripts/calibrate_photo_presets.py --gains 1,1.25,1.5 \
        ../shared/datasets/london/neutral_front/{002,012,019,027,036,041,066,086,097,104,114,122,127,134,139,172}_03.jpg

Reproduces the table beside `PHOTO_GAIN` in lgan_cli/geometry/aus.py (run it on people the models
are not evaluated on: the London training people above). For each expression and gain it edits
every photo with the non-learned geometry editor (ICT-FaceKit fit, the preset, the thin-plate
warp) and prints how often face-api reads the intended class, the median identity distance and
the median kept score. A gain g is asked as the fraction g / PHOTO_GAIN[expression] of the
shipped preset's displacement, which equals the preset at gain g when the input is neutral (the
projection is linear in the blendshape weights). `--model M` edits with a bundled or trained model
instead, as a user gets the edit (its stage II, its drawn mouth): for a model whose G_l takes the
fitted geometry as input (`landmark_base: fitted`) the preset is what it is given.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import torch

from lgan_cli.eval.photos import evaluate_photos
from lgan_cli.facenets.expression import DATASET_TO_CLASS
from lgan_cli.geometry.aus import PHOTO_GAIN
from lgan_cli.models.geometry_editor import GeometryEditor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", type=Path, help="neutral photos, one face each")
    parser.add_argument("--gains", default="1,1.25,1.5", help="comma-separated gains over the synth recipes")
    known = [name for name, face_api_class in DATASET_TO_CLASS.items() if face_api_class and name != "neutral"]
    parser.add_argument("--expr", default=",".join(known), help="expressions (default: the six face-api reads)")
    parser.add_argument("--model", default=None, help="edit with this model instead of the geometry-only floor")
    args = parser.parse_args()
    editor = GeometryEditor()
    if args.model:
        from lgan_cli.models.load import load_editor

        editor = load_editor(args.model, torch.device("cpu"), offline=True)
    gains = [float(g) for g in args.gains.split(",")]
    expressions = [e for e in args.expr.split(",") if e != "neutral"]  # neutral has no gain to calibrate
    requests = [(expression, gain / PHOTO_GAIN[expression]) for expression in expressions for gain in gains]
    if args.model and any(fraction > 1 for _, fraction in requests):
        parser.error("with --model, a gain above the preset's own cannot be asked (a model edits at most 100 %)")
    reports = evaluate_photos([editor], args.photos, requests, torch.device("cpu"))
    print(f"{'expression':14s} {'gain':>5s} {'read':>6s} {'ID dist':>8s} {'kept':>6s}  face-api's readings")
    for report in reports:
        summary = report.summary(editor.name)
        readings = Counter(score.expression_predicted for score in report.methods[editor.name])
        gain = report.intensity * PHOTO_GAIN[report.expression]
        read = summary["expression_correct"]
        print(
            f"{report.expression:14s} {gain:5.2f} {'-' if read is None else f'{read:.0%}':>6s} "
            f"{summary['identity_distance']:8.3f} {summary['kept']:6.3f}  {dict(readings.most_common())}"
        )


if __name__ == "__main__":
    main()
