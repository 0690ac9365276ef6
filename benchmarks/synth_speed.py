"""Images per second of the synthetic-face renderer (`lgan synth`), at 128 and 256 px.

Times `FaceRenderer.render` on a few identities x expressions, after one warm-up image; the
per-identity setup (sampling and painting the texture, ~0.3 s) is timed separately, since a
data set pays it once per 29 images. Single-threaded by default (numpy's BLAS and torch are
limited to one thread before they load), as on a busy machine.

    python benchmarks/synth_speed.py                      # 128 and 256 px, 1 thread
    python benchmarks/synth_speed.py --sizes 256 --images 40 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--images", type=int, default=24, help="timed images per size")
    parser.add_argument("--identities", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ict", default=None, help="ICT model (.npz or FaceXModel/) [default location]")
    args = parser.parse_args()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)  # must be set before numpy loads its BLAS

    import cv2
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    from lgan_cli.synth.facemodel import load_face_model
    from lgan_cli.synth.recipes import RECIPES, blendshape_weights
    from lgan_cli.synth.render import FaceRenderer, sample_identity_scene

    started = time.perf_counter()
    renderer = FaceRenderer(load_face_model(args.ict))
    setup_s = time.perf_counter() - started
    started = time.perf_counter()
    scenes = [sample_identity_scene(renderer, np.random.default_rng([0, i])) for i in range(args.identities)]
    scene_s = (time.perf_counter() - started) / args.identities
    jobs = [
        (scene, blendshape_weights(expression, 4) if expression != "neutral" else {})
        for scene in scenes
        for expression in RECIPES
    ]
    results = {"threads": args.threads, "renderer_setup_s": round(setup_s, 2), "identity_setup_s": round(scene_s, 3)}
    for size in args.sizes:
        renderer.render(*jobs[0], size)  # warm-up
        started = time.perf_counter()
        for index in range(args.images):
            renderer.render(*jobs[index % len(jobs)], size)
        seconds = (time.perf_counter() - started) / args.images
        results[f"{size}px"] = {"s_per_image": round(seconds, 3), "images_per_s": round(1 / seconds, 2)}
        print(
            f"{size:4d} px: {1 / seconds:5.2f} images/s ({seconds * 1000:.0f} ms/image, {args.threads} thread(s))",
            file=sys.stderr,
        )
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
