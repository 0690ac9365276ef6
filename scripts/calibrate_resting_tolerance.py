"""Measure how much expression a fit finds in neutral faces: the resting tolerance per blendshape.

    python scripts/calibrate_resting_tolerance.py [--prepared prepared/london-128-default] [--percentile 90]

Fits ICT-FaceKit to the 68 points of every neutral crop in the prepared dataset's *training*
split (the held-out people are never seen) and takes, per blendshape (left and right pooled),
the given percentile of the fitted weights. Writes the result into
lgan_cli/geometry/resting.py (RESTING_TOLERANCE); see that module for how it is used.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lgan_cli.data.prepared import PreparedDataset
from lgan_cli.fileio import rewrite_generated_block
from lgan_cli.geometry.fit import fit_face
from lgan_cli.geometry.resting import base_name

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "lgan_cli" / "geometry" / "resting.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared", type=Path, default=REPO / "prepared" / "london-128-default")
    parser.add_argument("--split", default="train")
    parser.add_argument("--percentile", type=float, default=90.0)
    args = parser.parse_args()

    items = [item for item in PreparedDataset.load(args.prepared).split(args.split) if item.expression == "neutral"]
    weights = [fit_face(item.points68.astype(np.float64)).expression_weights for item in items]
    print(f"{len(weights)} neutral crops of the {args.split} split fitted")
    names = sorted({name for fitted in weights for name in fitted})
    pooled: dict[str, list[float]] = {}
    for name in names:
        pooled.setdefault(base_name(name), []).extend(fitted.get(name, 0.0) for fitted in weights)
    tolerance = {name: float(np.percentile(values, args.percentile)) for name, values in sorted(pooled.items())}
    rows = "".join(f'    "{name}": {value:.3f},\n' for name, value in tolerance.items() if value > 0.0)
    rewrite_generated_block(TARGET, "RESTING_TOLERANCE: dict[str, float] = {", rows, "}")
    print(f"wrote {TARGET}: {len(rows.splitlines())} blendshapes with a tolerance")


if __name__ == "__main__":
    main()
