"""Bundle a trained run as a registered model: fp16 weights in weights/<dir>/, checksums recorded.

    python scripts/bundle_model.py runs/00000-london-128 london-128 --eval docs/eval-london-128.json
    python scripts/bundle_model.py runs/00000-london-warp-128 london-warp-128 --no-synthesis \
        --eval docs/eval-london-warp-128.json --photos-eval docs/eval-photos-london-warp-128.json

Writes weights/<bundled_dir>/{config.json, model.safetensors (fp16), README.md (model card)},
checks that fp16 keeps the outputs (max abs difference on real crops), and records the
sha256 of each file in lgan_cli/models_registry.json and weights/manifest.json.

A bundled model whose run is gone can have its card re-made from new measurements, its weights
and checksums untouched:

    python scripts/bundle_model.py weights/lgan-ict-synth-128 ict-synth-128 --card-only \
        --eval docs/eval-ict-synth-128.json --photos-eval docs/eval-photos-ict-synth-128.json
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from lgan_cli.assets import example_photos, sha256_file
from lgan_cli.fileio import atomic_write_json, atomic_write_text
from lgan_cli.model_card import model_card
from lgan_cli.model_files import CONFIG_NAME, WEIGHTS_NAME
from lgan_cli.models.checkpoint import load_inference, save_inference
from lgan_cli.models.config import MOUTH_INTERIORS, RESIDUAL_REGIONS, SHADINGS, TARGET_POINTS
from lgan_cli.models.generators import LandmarkGAN
from lgan_cli.pixels import to_tensor

REPO = Path(__file__).resolve().parents[1]
REGISTRY = REPO / "lgan_cli" / "models_registry.json"
MANIFEST = REPO / "weights" / "manifest.json"


def fp16_difference(model, half_folder: Path, size: int) -> float:
    """Largest output difference (in [-1, 1] units) between the fp32 model and its fp16 copy, on the
    example photos' aligned faces."""
    from lgan_cli.editing import find_faces
    from lgan_cli.faces.decode import load_image
    from lgan_cli.faces.detect import FaceDetector
    from lgan_cli.models.editor import fitted_target_points

    half, _ = load_inference(half_folder)
    with FaceDetector() as detector:
        faces = [
            find_faces(detector, load_image(photo), size, "largest", str(photo))[0]
            for photo in example_photos()
            if photo.name.startswith("london_")
        ]
    x = to_tensor([f.crop for f in faces])
    points = torch.from_numpy(np.stack([f.points for f in faces]))
    expressions = [model.config.expressions[-1]] * len(faces)
    labels = model.encode_labels(expressions)
    fitted = None
    if model.config.landmark_base == "fitted":  # its G_l corrects the fitted 3D model's points
        fitted = fitted_target_points(points, expressions, [None] * len(faces))
    with torch.no_grad():
        return float((model(x, labels, points, fitted)[2] - half(x, labels, points, fitted)[2]).abs().max())


def write_card(target: Path, eval_path: Path | None, photos_path: Path | None) -> None:
    """The bundled model's card (README.md) from its config.json and the evaluations, which are kept
    beside it as eval.json and eval-photos.json (their summaries only)."""
    evaluation = json.loads(eval_path.read_text()) if eval_path else None
    if evaluation:
        for method in evaluation.get("methods", {}).values():
            method.pop("pairs", None)  # keep the card's source small: summaries only
        atomic_write_json(target / "eval.json", evaluation)
    photos = json.loads(photos_path.read_text()) if photos_path else None
    if photos:
        for report in photos.get("reports", [photos]):  # one request, or a grid of expressions x levels
            for method in report.get("methods", {}).values():
                method.pop("photos", None)
        atomic_write_json(target / "eval-photos.json", photos)
    card = model_card(json.loads((target / CONFIG_NAME).read_text()), evaluation, photos)
    atomic_write_text(target / "README.md", card)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("name", help="registry name, e.g. london-128")
    parser.add_argument("--eval", type=Path, help="lgan eval --json output to put in the model card")
    parser.add_argument("--photos-eval", type=Path, help="lgan eval --photos --json output to put in the model card")
    parser.add_argument(
        "--no-synthesis",
        action="store_true",
        help="ship a warp model with its synthesis mask switched off (the learned flow alone moves the pixels)",
    )
    parser.add_argument(
        "--residual-keeps-motion",
        action="store_true",
        help="ship a warp model whose learned flow may not cancel the landmark-driven motion (flow.without_opposition)",
    )
    parser.add_argument(
        "--colour-smoothing",
        type=float,
        help="ship a warp model that blurs its synthesised colours by this many crop pixels (ModelConfig)",
    )
    parser.add_argument(
        "--mouth-interior",
        choices=MOUTH_INTERIORS,
        help="ship a warp model that fills parted lips this way at the photo (ModelConfig.mouth_interior)",
    )
    parser.add_argument(
        "--shading",
        choices=SHADINGS,
        help="ship a warp model that shades the moved skin this way at the photo (ModelConfig.shading)",
    )
    parser.add_argument(
        "--target-points",
        choices=TARGET_POINTS,
        help="ship a model whose G_l points reach stage II this way (ModelConfig.target_points)",
    )
    parser.add_argument(
        "--residual-region",
        choices=RESIDUAL_REGIONS,
        help="ship a warp model whose learned flow acts only there (ModelConfig.residual_region)",
    )
    parser.add_argument(
        "--card-only",
        action="store_true",
        help="re-make the model card (and its eval files) of the model already bundled in RUN, nothing else",
    )
    args = parser.parse_args()

    registry = json.loads(REGISTRY.read_text())
    entry = registry["models"][args.name]
    target = REPO / "weights" / entry["bundled_dir"]
    if args.card_only:
        if args.run.resolve() != target.resolve():
            parser.error(f"--card-only re-makes the card of the bundled model: give {target.relative_to(REPO)} as RUN")
        write_card(target, args.eval, args.photos_eval)
        return
    model, document = load_inference(args.run)
    switches = {}  # switches of the renderer, not of its weights
    if args.no_synthesis:
        switches["synthesis"] = False
    if args.residual_keeps_motion:
        switches["residual_keeps_motion"] = True
    if args.colour_smoothing is not None:
        switches["colour_smoothing"] = args.colour_smoothing
    if args.mouth_interior is not None:
        switches["mouth_interior"] = args.mouth_interior
    if args.target_points is not None:
        switches["target_points"] = args.target_points
    if args.shading is not None:
        switches["shading"] = args.shading
    if args.residual_region is not None:
        switches["residual_region"] = args.residual_region
    if switches:
        trained = model
        model = LandmarkGAN(replace(trained.config, **switches)).eval()
        model.load_state_dict(trained.state_dict())
    info = {k: v for k, v in document.items() if k not in ("format", "version", "model")}
    if isinstance(info.get("run"), dict):  # the data's terms as the current code states them (every source)
        from lgan_cli.train.setup import read_run_config, run_info

        info["training_data"] = {
            **info.get("training_data", {}),
            **run_info(read_run_config(args.run))["training_data"],
        }
    save_inference(model, target, info, half=True)
    write_card(target, args.eval, args.photos_eval)
    print(f"fp16 vs fp32 max abs output difference: {fp16_difference(model, target, model.config.resolution):.4f}")

    files = {name: sha256_file(target / name) for name in (CONFIG_NAME, WEIGHTS_NAME)}
    entry["files"] = files
    entry["expressions"] = list(model.config.expressions)
    atomic_write_json(REGISTRY, registry, indent=2)
    manifest = json.loads(MANIFEST.read_text())
    licence = (document.get("training_data") or {}).get("licence", "unknown")
    for name, digest in files.items():
        manifest["files"][f"{entry['bundled_dir']}/{name}"] = {
            "sha256": digest,
            "size": (target / name).stat().st_size,
            "what": f"lgan model '{args.name}': {entry['description']}",
            "source": (
                f"trained by lgan from {args.run.name} (recipe in configs/), exported fp16 by scripts/bundle_model.py"
            ),
            "licence": licence,
            "attribution": licence,
            "script": "scripts/bundle_model.py",
        }
    atomic_write_json(MANIFEST, manifest, indent=2)
    for name, digest in files.items():
        print(f"{target / name}: {(target / name).stat().st_size:,} bytes, sha256 {digest}")


if __name__ == "__main__":
    main()
