"""How the photo presets read at other gains: the geometry-only floor on neutral photos.

    python scripts/calibrate_photo_presets.py --gains 1,1.25,1.5 \
        ../shared/datasets/london/neutral_front/{002,012,019,027,036,041,066,086,097,104,114,122,127,134,139,172}_03.jpg

Reproduces the table beside `PHOTO_GAIN` in lgan_cli/geometry/aus.py (run it on people the models
are not evaluated on: the London training people above). For each expression and gain it edits
every photo with the non-learned geometry editor (ICT-FaceKit fit, the preset, the thin-plate
warp) and prints how often face-api reads the intended class, the median identity distance and
the median kept score. A gain g is asked as the fraction g / PHOTO_GAIN[expression] of the
shipped preset's displacement, which equals the preset at gain g when the input is neutral (the
projection is linear in the blendshape weights).
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
    args = parser.parse_args()
    gains = [float(g) for g in args.gains.split(",")]
    expressions = [e for e in args.expr.split(",") if e != "neutral"]  # neutral has no gain to calibrate
    requests = [(expression, gain / PHOTO_GAIN[expression]) for expression in expressions for gain in gains]
    reports = evaluate_photos([GeometryEditor()], args.photos, requests, torch.device("cpu"))
    print(f"{'expression':14s} {'gain':>5s} {'read':>6s} {'ID dist':>8s} {'kept':>6s}  face-api's readings")
    for report in reports:
        summary = report.summary(GeometryEditor.name)
        readings = Counter(score.expression_predicted for score in report.methods[GeometryEditor.name])
        gain = report.intensity * PHOTO_GAIN[report.expression]
        read = summary["expression_correct"]
        print(
            f"{report.expression:14s} {gain:5.2f} {'-' if read is None else f'{read:.0%}':>6s} "
            f"{summary['identity_distance']:8.3f} {summary['kept']:6.3f}  {dict(readings.most_common())}"
        )


if __name__ == "__main__":
    main()
