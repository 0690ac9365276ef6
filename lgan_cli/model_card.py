"""The model card (README.md) written with every pushed or bundled model.

What the model does, what it was trained on under which licence and attribution, its
resolution and expressions, the measured metrics (from `lgan eval --json`), and its limits.
"""

from __future__ import annotations

import re
from pathlib import Path

from lgan_cli.eval.metric_table import METRICS

CONTINUOUS_INTENSITY = "none (continuous intensity: landmark displacement and label blended)"
_HUB_LICENCES = {"cc by 4.0": "cc-by-4.0", "cc-by-4.0": "cc-by-4.0", "mit": "mit", "apache-2.0": "apache-2.0"}


def hub_licence_id(licence: str) -> str:
    """The Hub's licence identifier for a training-data licence text ('other' when not a standard one).

    The weights carry the training data's terms, so the data's licence is the model's licence.
    """
    head = licence.split(":")[0].strip().lower()
    return _HUB_LICENCES.get(head, "other")


def model_card(config_document: dict, eval_document: dict | None, photo_eval_document: dict | None = None) -> str:
    """The README.md for a Hub repo: YAML front matter, then what, trained on what, how good, limits."""
    model = config_document.get("model", {})
    data = config_document.get("training_data") or {}
    dataset = data.get("dataset") or "unknown"
    licence = data.get("licence") or "unknown"
    expressions = list(model.get("expressions") or [])
    resolution = model.get("resolution", "?")
    licence_id = hub_licence_id(licence)

    front = [
        "---",
        f"license: {licence_id}",
        *([f"license_name: {_slug(dataset)}-terms"] if licence_id == "other" else []),
        "library_name: lgan",
        "tags:",
        "- facial-expression",
        "- landmarkgan",
        "- image-to-image",
        "datasets:",
        f"- {_slug(dataset)}",
        "pipeline_tag: image-to-image",
        "---",
    ]
    body = [
        "",
        f"# LandmarkGAN facial-expression editor ({resolution} px, {', '.join(expressions) or 'no expressions'})",
        "",
        "A LandmarkGAN model (Hao Tang and Nicu Sebe, *Facial Expression Translation "
        "using Landmark Guided GANs*) for the `lgan` command-line editor. From one face photo and a target "
        "expression, stage I generates the person's facial landmarks for that expression and stage II renders "
        "their face with it, guided by those landmarks; `lgan` puts the result back into the photo.",
        "",
        _renderer_line(
            model.get("renderer", "unet"), model.get("synthesis", True), model.get("synthesis_region", "face")
        )
        + _residual_line(model),
        "",
        "## Files",
        "",
        "- `config.json`: the model settings and the training run's configuration.",
        "- `model.safetensors`: the two generators (G_l, G_e); safetensors, no pickled code.",
        "",
        "## Model",
        "",
        f"- Resolution: {resolution} x {resolution} px aligned face crops.",
        f"- Expressions: {', '.join(expressions) or 'none recorded'}.",
        f"- Intensity levels: {model.get('intensity_levels', 0) or CONTINUOUS_INTENSITY}.",
        "",
        "## Training data and licence",
        "",
        f"- Dataset: `{dataset}`.",
        f"- Licence and attribution: {licence}",
        "- The weights are derived from these photos and are shared under the same terms; credit the dataset "
        "as above when you use or redistribute them.",
    ]
    test_ids = data.get("test_ids")
    if test_ids:
        body.append(f"- Held-out people (test split, never seen in training): {', '.join(map(str, test_ids))}.")
    body += _training_lines((config_document.get("run") or {}).get("train") or {}, config_document.get("epoch"))
    body += ["", "## Evaluation", ""]
    body += _metrics_section(eval_document)
    body += _photo_section(photo_eval_document)
    body += [
        "",
        "## Limits",
        "",
        f"- Trained on one dataset at {resolution} px: expect lower quality on other cameras, lighting, ages and "
        "ethnicities than the training people cover, and on faces far from frontal.",
        *(
            [
                "- Trained only on synthetic renders of a morphable head model: on real photos, expect the "
                "expression's geometry to transfer better than its skin detail, and a visibly rendered look."
            ]
            if dataset == "ict-synth"
            else []
        ),
        *_softness_limit(eval_document),
        f"- Only the expressions above ({', '.join(expressions) or 'none'}) can be requested.",
        "- Edits are synthetic: do not present them as real photos of the person, and do not edit people's "
        "photos without their consent.",
        "",
        "## Use",
        "",
        "With the `lgan` command-line tool installed (replace OWNER/REPO with this repository):",
        "",
        "```bash",
        f"lgan edit photo.jpg --expr {expressions[-1] if expressions else 'happy'} --model hf:OWNER/REPO",
        "lgan models download hf:OWNER/REPO   # once, then --offline works",
        "```",
        "",
    ]
    return "\n".join(front + body)


def _renderer_line(renderer: str, synthesis: bool = True, region: str = "face") -> str:
    if renderer == "warp" and synthesis and region == "mouth":
        return (
            "Stage II is the warp renderer: it moves the photo's own pixels along a flow (carried to the photo's "
            "full resolution), and paints only where the requested mouth opens beyond what the photo shows (the "
            "inner-lip outline of the generated landmarks): there it synthesises the mouth's interior (the dark "
            "cavity, teeth), in colours learned from real and synthetic open mouths. Everything else in the edited "
            "face is the photograph's own pixels."
        )
    if renderer == "warp" and not synthesis:
        return (
            "Stage II is a warp renderer: guided by the landmarks, it moves the photo's own pixels (a prior flow "
            "from the landmarks plus a learned residual flow, lifted to the photo's full resolution), so the "
            "edited face keeps the photograph's sharpness. Its synthesis mask is switched off in this model "
            "(`synthesis: false`): trained on this data it painted faint streaks rather than teeth, so every "
            "output pixel is a moved photo pixel."
        )
    if renderer == "warp":
        return (
            "Stage II is a warp renderer: guided by the landmarks, it moves the photo's own pixels (a flow lifted "
            "to the photo's full resolution) and synthesises only what the photo does not contain (a mask and "
            "colours, e.g. teeth), so the edited face keeps the photograph's sharpness."
        )
    return "Stage II is the paper's U-Net: it re-renders the whole face crop, which is pasted back into the photo."


def _residual_line(model: dict) -> str:
    if model.get("renderer") != "warp":
        return ""
    line = ""
    if model.get("residual_keeps_motion"):
        line += (
            " Its learned flow may bend the landmarks' motion or add to it, never cancel it "
            "(`residual_keeps_motion`), so an expression keeps the full motion stage I asks for."
        )
    if model.get("residual_region") == "face":
        line += (
            " Its learned flow acts only inside the face's outline (`residual_region: face`); hair, ears and neck "
            "move only with the landmarks' own motion."
        )
    if model.get("colour_smoothing"):
        line += (
            f" The synthesised colours are blurred (a Gaussian of sigma {model['colour_smoothing']:g} crop px, "
            "`colour_smoothing`) before they are magnified onto the photo."
        )
    if model.get("mouth_interior") == "face-model":
        line += (
            " Where the target lips part, the opening is filled at the photo's own resolution with the teeth, gums "
            "and cavity of the 3D face model fitted to the target points, coloured from the person's eyes and lips "
            "(`mouth_interior: face-model`), not with G_e's colours magnified from the crop."
        )
    if model.get("shading") == "face-model":
        line += (
            " The moved skin takes the new expression's change of light (`shading: face-model`): the fitted 3D "
            "model's skin, posed with the photo's expression and with the target's, gives the ratio of light each "
            "bit of skin gets, which multiplies the photo's own (a smile's folds and cheeks)."
        )
    if model.get("target_points") == "anchored":
        line += (
            " G_l's points are anchored on the face's own (`target_points: anchored`): only its motion (its points "
            "for the request less its points for neutral) moves the photo, from the face's neutral as the fitted 3D "
            "model finds it (G_l's own neutral reading on lips that show an expression), so its regression error "
            "does not."
        )
    if model.get("landmark_base") == "fitted":
        line += (
            " G_l takes the geometry of the 3D face model fitted to the face as its input (`landmark_base: "
            "fitted`): its PDM coefficients correct the fitted model's target points for the requested expression "
            "and level, instead of displacing the mean shape."
        )
    return line


def _photo_grid_section(reports: list[dict]) -> list[str]:
    """`lgan eval --photos --expr all --intensity 1,2,3,4 --geometry --json`: one row per
    expression, level and method."""
    lines = [
        "",
        "`lgan eval --photos` (full-resolution photos of people the model never saw; medians): kept = SSIM over the "
        "face minus the mouth after optical flow moves the output back; score = mean of the expression's judging "
        "MediaPipe blendshapes; rises = share of photos whose score rises; read = face-api reads the intended class "
        "(the input's rate in brackets; contempt has no class); mouth = brightness inside the inner lips / of the "
        "lips (open mouths only: below 1 is a dark cavity, about 1 stretched lips); detail = fine detail (|Laplacian|) "
        "inside the inner lips / on the lips (well below 1: a smooth, magnified interior); stretch = the warp's "
        "largest magnification of the face outside the mouth, median (max).",
        "",
        "| expression | level | method | kept ↑ | score (input -> output) | rises | read | ID dist ↓ (max) "
        "| mouth | detail | stretch |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for report in reports:
        for name, result in (report.get("methods") or {}).items():
            m = result.get("medians") or {}
            lines.append(
                f"| {report.get('expression')} | {report.get('intensity') or 'full'} | {name} | "
                f"{_cell(m.get('kept'), '{:.3f}')} | "
                f"{_cell(m.get('input_expression_score'), '{:.2f}')} -> {_cell(m.get('expression_score'), '{:.2f}')} | "
                f"{_cell(m.get('score_rises'), '{:.0%}')} | {_cell(m.get('expression_correct'), '{:.0%}')} "
                f"({_cell(m.get('input_correct'), '{:.0%}')}) | {_cell(m.get('identity_distance'), '{:.3f}')} "
                f"({_cell(m.get('max_identity_distance'), '{:.3f}')}) | {_cell(m.get('mouth_interior'), '{:.2f}')} | "
                f"{_cell(m.get('mouth_detail'), '{:.2f}')} | {_cell(m.get('magnification'), '{:.1f}')} "
                f"({_cell(m.get('max_magnification'), '{:.1f}')}) |"
            )
    return lines


def _photo_section(document: dict | None) -> list[str]:
    """Medians of `lgan eval --photos --json`: what a user sees on full-resolution photos."""
    if (document or {}).get("reports"):
        return _photo_grid_section(document["reports"])
    methods = (document or {}).get("methods") or {}
    if not methods:
        return []
    shapes = ", ".join(document.get("judging_blendshapes") or []) or "none"
    lines = [
        "",
        f"`lgan eval --photos` ({document.get('expression')}, full-resolution photos of people the model never saw; "
        f"medians): kept = SSIM of input and output over the face minus the mouth after optical flow moves the output "
        f"back (1 = photograph kept); score = mean of MediaPipe's {shapes}; ID dist = face descriptor distance to the "
        "input (< 0.6: same person); far px = pixels changed beyond the face and a margin.",
        "",
        "| method | photos | kept ↑ | min kept | score (input -> output) | read as intended | ID dist ↓ | far px |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, result in methods.items():
        m = result.get("medians") or {}
        read = "-" if m.get("expression_correct") is None else f"{m['expression_correct']:.0%}"
        lines.append(
            f"| {name} | {m.get('photos', '-')} | {_cell(m.get('kept'), '{:.3f}')} | "
            f"{_cell(m.get('min_kept'), '{:.3f}')} | {_cell(m.get('input_expression_score'), '{:.2f}')} -> "
            f"{_cell(m.get('expression_score'), '{:.2f}')} | {read} | "
            f"{_cell(m.get('identity_distance'), '{:.3f}')} | {m.get('total_changed_far', '-')} |"
        )
    return lines


def _training_lines(train: dict, reached_epoch: int | None = None) -> list[str]:
    """How long it trained, and from what: enough to tell a short run from a long one."""
    if not train:
        return []
    planned = train.get("epochs", "?")
    stopped = isinstance(reached_epoch, int) and isinstance(planned, int) and reached_epoch < planned
    length = f"{reached_epoch} of {planned} planned epochs (stopped early)" if stopped else f"{planned} epochs"
    line = f"- Training: {length}, batch {train.get('batch_size', '?')}, seed {train.get('seed', '?')}"
    if train.get("landmark_warmup_steps"):
        line += f", after {train['landmark_warmup_steps']} warm-up steps of G_l alone on the landmark loss"
    if train.get("init_from"):
        line += f"; started from the generators of the earlier run `{Path(train['init_from']).name}`"
    return [line + "."]


def _softness_limit(eval_document: dict | None) -> list[str]:
    """A limit the evaluation shows: outputs further from the real target photo (LPIPS) than the unchanged input."""
    methods = (eval_document or {}).get("methods") or {}
    copy = (methods.get("copy") or {}).get("overall") or {}
    model = next(((r.get("overall") or {}) for name, r in methods.items() if name not in ("copy", "real")), {})
    if model.get("lpips") is None or copy.get("lpips") is None or model["lpips"] <= copy["lpips"]:
        return []
    return [
        f"- Outputs are softer than the photo: their LPIPS to the real target photo is {model['lpips']:.3f}, against "
        f"{copy['lpips']:.3f} for returning the input unchanged (the `copy` row). The expression changes, but fine "
        "skin and hair detail is lost, and a pasted-back face can look smoother than the rest of the photo."
    ]


def _metrics_section(eval_document: dict | None) -> list[str]:
    """A markdown table of the overall metrics per method from `lgan eval --json`, or a note."""
    methods = (eval_document or {}).get("methods") or {}
    if not methods:
        return [
            "No evaluation was recorded with this model (`lgan eval --model RUN ... --json RUN/eval.json` adds one)."
        ]
    lines = [
        f"`lgan eval` on `{Path(str(eval_document.get('dataset', '?'))).name}`, "
        f"{eval_document.get('split', '?')} split, "
        f"{eval_document.get('pairs', '?')} (source, target) pairs at {eval_document.get('resolution', '?')} px; "
        "overall means (LM dist: landmarks re-detected in the output vs the target's, pixels at 256 px; G_l dist: "
        "the generated target landmarks vs the target's; verif.: identity verification rate).",
        "",
    ]
    lines += _table("method", {name: result.get("overall") or {} for name, result in methods.items()})
    for name, result in methods.items():
        by_level = result.get("per_target_intensity") or {}
        if by_level:
            lines += ["", f"By target intensity level ({name}; level 1 = 25 %, 4 = 100 % of the expression):", ""]
            lines += _table("level", dict(sorted(by_level.items())))
    return lines


def _table(first_column: str, summaries: dict[str, dict]) -> list[str]:
    """A markdown table: one row per summary (name -> `lgan eval` summary), the metrics as columns."""
    lines = [
        f"| {first_column} | pairs | " + " | ".join(metric.title for metric in METRICS) + " |",
        "|---|---|" + "---|" * len(METRICS),
    ]
    for name, summary in summaries.items():
        cells = [metric.show(summary.get(metric.key)) for metric in METRICS]
        lines.append(f"| {name} | {summary.get('pairs', '-')} | " + " | ".join(cells) + " |")
    return lines


def _cell(value, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "unknown"
