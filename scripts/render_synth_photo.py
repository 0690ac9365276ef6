"""Render one synthetic person of an `lgan synth` set as a larger photo, for examples and figures.

    python scripts/render_synth_photo.py --identity 0 --seed 0 --size 512 --out examples/synth0000_neutral.png

The person is the one `lgan synth --seed SEED` makes at index IDENTITY (same shape, skin,
lighting and pose), rendered at SIZE px with the set's framing, so a model trained on the
set can be tried on a person it held out, through the full `lgan edit` pipeline
(detection, alignment, paste-back). The render is MIT-licensed like the ICT-FaceKit model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lgan_cli.faces.decode import save_image
from lgan_cli.synth.dataset import SynthConfig, identity_rng
from lgan_cli.synth.facemodel import load_face_model
from lgan_cli.synth.recipes import blendshape_weights
from lgan_cli.synth.render import FaceRenderer, sample_identity_scene


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identity", type=int, default=0, help="index of the person in the set")
    parser.add_argument("--seed", type=int, default=0, help="the set's --seed")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--expression", default="neutral")
    parser.add_argument("--intensity", type=int, default=None, help="1..4 (not for neutral)")
    parser.add_argument("--ict", type=Path, default=None, help="ICT-FaceKit npz (default: ../shared)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    defaults = SynthConfig()
    renderer = FaceRenderer(load_face_model(args.ict), defaults.texture_size, defaults.supersample)
    scene = sample_identity_scene(renderer, identity_rng(args.seed, args.identity))
    weights = {} if args.expression == "neutral" else blendshape_weights(args.expression, args.intensity or 4)
    rendering = renderer.render(scene, weights, args.size)
    save_image(rendering.image, args.out)
    print(f"wrote {args.out} ({args.size} x {args.size})")


if __name__ == "__main__":
    main()
