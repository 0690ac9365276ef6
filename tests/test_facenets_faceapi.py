"""face-api's identity and expression nets in torch: against dlib on real photos, and reproducible weights.

dlib (dlib-bin + face_recognition_models) is the independent reference for the identity net:
its own face chips and descriptors. The identity tests use even London ids only, because
CHIP_TEMPLATE_51 (lgan_cli/facenets/identity.py) was fitted on the odd ids; run this file
directly (`python tests/test_facenets_faceapi.py`) to refit that template and print it.
The slow tests download face-api with npm: the conversion must reproduce the bundled files
byte for byte, and the torch nets must match face-api's own JavaScript (run with node).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lgan_cli.assets import REPO_WEIGHTS_DIR, sha256_file
from lgan_cli.data.records import RAFD_EXPRESSIONS
from lgan_cli.facenets import expression as expression_module
from lgan_cli.facenets import identity as identity_module
from lgan_cli.facenets.expression import (
    DATASET_TO_CLASS,
    EXPRESSION_CLASSES,
    expression_input_from_crop,
    load_expression_net,
    tf_same_pad,
)
from lgan_cli.facenets.identity import (
    CHIP_SIZE,
    CHIP_TEMPLATE_51,
    INNER_FIRST,
    SAME_PERSON_DISTANCE,
    identity_chip_from_crop,
    load_identity_net,
    similarity_to_template,
)
from lgan_cli.faces.align import align_face

REPO = Path(__file__).resolve().parents[1]
LONDON = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "london"
IDENTITY_IDS = ("002", "004", "008")  # even ids: the chip template was fitted on odd ones
EXPRESSION_IDS = ("001", "002", "003", "004", "005", "007", "008", "009", "010", "011")  # the first ten
SHOTS = (("neutral_front", "03"), ("smiling_front", "08"))
FACEAPI = "@vladmandic/face-api@1.7.15"
WEIGHT_FILES = ("faceapi_recognition.safetensors", "faceapi_expression.safetensors")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def london_rgb(folder: str, person: str, suffix: str) -> np.ndarray:
    return np.asarray(Image.open(LONDON / folder / f"{person}_{suffix}.jpg").convert("RGB"))


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [-1, 1], like our crops."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 127.5 - 1.0


# ---------------------------------------------------------------- dlib reference


def dlib_models():
    """(detector, 68-point predictor, ResNet descriptor) from dlib-bin + face_recognition_models."""
    dlib = pytest.importorskip("dlib", reason="dlib (dlib-bin) is not installed")
    spec = importlib.util.find_spec("face_recognition_models")  # importing it needs pkg_resources
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("face_recognition_models is not installed")
    models = Path(spec.submodule_search_locations[0]) / "models"
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat")),
        dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat")),
    )


def dlib_shape(models, rgb: np.ndarray):
    """dlib's 68-point shape of the one face; detection on a half-size copy for speed."""
    import dlib

    detector, predictor, _ = models
    found = detector(np.ascontiguousarray(rgb[::2, ::2]), 0)
    assert len(found) == 1
    box = found[0]
    return predictor(rgb, dlib.rectangle(box.left() * 2, box.top() * 2, box.right() * 2, box.bottom() * 2))


def dlib_photo_to_chip(shape, photo_shape: tuple[int, int]) -> np.ndarray:
    """The 2x3 map from photo pixels to dlib's 150-px chip pixels, read off exactly.

    dlib's chip of an image whose pixels hold their own x (or y) coordinate holds, per chip
    pixel, the photo coordinate it was sampled from; a least-squares affine fit of those
    (exact to 1e-10 px) inverted gives photo -> chip.
    """
    import dlib

    height, width = photo_shape
    ramp_x = np.tile(np.arange(width, dtype=np.float64), (height, 1))
    ramp_y = np.tile(np.arange(height, dtype=np.float64)[:, None], (1, width))
    src_x = dlib.get_face_chip(ramp_x, shape, size=CHIP_SIZE, padding=0.25)
    src_y = dlib.get_face_chip(ramp_y, shape, size=CHIP_SIZE, padding=0.25)
    rows, cols = np.mgrid[10:140, 10:140]  # away from the replicated borders
    design = np.stack([cols.ravel(), rows.ravel(), np.ones(cols.size)], axis=1)
    source = np.stack([src_x[10:140, 10:140].ravel(), src_y[10:140, 10:140].ravel()], axis=1)
    chip_to_photo = np.linalg.lstsq(design, source, rcond=None)[0].T
    return np.linalg.inv(np.vstack([chip_to_photo, [0, 0, 1]]))[:2]


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def london() -> Path:
    if not (LONDON / "neutral_front").is_dir():
        pytest.skip(f"{LONDON} is not present (CI without the shared data)")
    return LONDON


@pytest.fixture(scope="module")
def identity_net():
    return load_identity_net("cpu")


@pytest.fixture(scope="module")
def expression_net():
    return load_expression_net("cpu")


@pytest.fixture(scope="module")
def faces(london, detector):
    """Per identity photo: the photo, dlib's shape/chip/descriptor, and our 68 points."""
    models = dlib_models()
    import dlib

    out = []
    for person in IDENTITY_IDS:
        for folder, suffix in SHOTS:
            rgb = london_rgb(folder, person, suffix)
            shape = dlib_shape(models, rgb)
            chip = np.asarray(dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=0.25))
            ours = detector.detect(rgb)
            assert len(ours) == 1
            out.append(
                {
                    "person": person,
                    "rgb": rgb,
                    "shape": shape,
                    "chip": chip,
                    "dlib": np.array(models[2].compute_face_descriptor(chip)),
                    "points68": ours[0].points68,
                }
            )
    return out


# ---------------------------------------------------------------- weights


def test_weight_files_match_the_manifest_and_the_loaders():
    manifest = json.loads((REPO_WEIGHTS_DIR / "manifest.json").read_text())["files"]
    expected = {
        "faceapi_recognition.safetensors": identity_module.WEIGHTS_SHA256,
        "faceapi_expression.safetensors": expression_module.WEIGHTS_SHA256,
    }
    for name in WEIGHT_FILES:
        path = REPO_WEIGHTS_DIR / name
        entry = manifest[name]
        assert sha256_file(path) == entry["sha256"] == expected[name], name
        assert path.stat().st_size == entry["size"] < 8_000_000, name
        assert entry["licence"].startswith("MIT") and "Mandic" in entry["attribution"], name
        assert entry["script"] == "scripts/convert_faceapi.py"


def test_nets_are_frozen_and_stay_in_eval_mode(identity_net, expression_net):
    for net in (identity_net, expression_net):
        assert sum(p.numel() for p in net.parameters()) > 0
        assert not any(p.requires_grad for p in net.parameters())
        net.train()
        assert not net.training
    with torch.no_grad():
        assert identity_net(torch.full((2, 3, 150, 150), 128.0)).shape == (2, 128)
        assert expression_net(torch.full((2, 3, 112, 112), 128.0)).shape == (2, 7)
    with pytest.raises(ValueError):
        identity_net(torch.zeros(1, 3, 160, 160))


def test_tf_same_padding_pads_the_odd_pixel_after():
    x = torch.zeros(1, 1, 112, 112)
    assert tf_same_pad(x, 3, 2).shape[-2:] == (113, 113)  # 0 before, 1 after
    assert tf_same_pad(x, 3, 2)[0, 0, 0, 0] == 0 and tf_same_pad(x + 1, 3, 2)[0, 0, 0, 0] == 1
    assert tf_same_pad(x + 1, 3, 1)[0, 0, 0, 0] == 0  # stride 1: one pixel each side
    assert tf_same_pad(torch.zeros(1, 1, 7, 7), 3, 2).shape[-2:] == (9, 9)  # odd size: 1 each side


def test_expression_names_cover_the_project_names():
    assert EXPRESSION_CLASSES == ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
    assert set(DATASET_TO_CLASS) == set(RAFD_EXPRESSIONS)
    assert DATASET_TO_CLASS["contemptuous"] is None
    assert all(DATASET_TO_CLASS[name] == name for name in RAFD_EXPRESSIONS if name != "contemptuous")


# ---------------------------------------------------------------- identity net vs dlib


def test_port_matches_dlib_on_the_same_chip(faces, identity_net):
    chips = torch.from_numpy(np.stack([f["chip"] for f in faces])).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        ours = identity_net(chips).numpy()
    for face, descriptor in zip(faces, ours):
        assert cosine(descriptor, face["dlib"]) >= 0.999, face["person"]
        assert np.linalg.norm(descriptor - face["dlib"]) < 0.06  # uint8 weights: ~0.04 measured
        assert 0.9 < np.linalg.norm(descriptor) / np.linalg.norm(face["dlib"]) < 1.1


def test_descriptors_tell_people_apart(faces, identity_net):
    chips = torch.from_numpy(np.stack([f["chip"] for f in faces])).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        ours = identity_net(chips).numpy()
    people = [f["person"] for f in faces]
    distances = np.linalg.norm(ours[:, None] - ours[None], axis=-1)
    for i in range(len(faces)):
        for j in range(i + 1, len(faces)):
            if people[i] == people[j]:  # neutral vs smiling of one person
                same = distances[i, j]
                assert same < SAME_PERSON_DISTANCE, people[i]
                others = [distances[k, m] for k in (i, j) for m in range(len(faces)) if people[m] != people[i]]
                assert same < min(others), people[i]
            else:
                assert distances[i, j] > SAME_PERSON_DISTANCE, (people[i], people[j])


def test_chip_transform_from_our_points_is_close_to_dlibs(faces):
    """Our similarity (our points -> template) vs dlib's own chip transform: chip-pixel RMS."""
    rows, cols = np.mgrid[0:150:5, 0:150:5]
    grid = np.stack([cols.ravel(), rows.ravel()], axis=1).astype(np.float64)
    template = torch.tensor(CHIP_TEMPLATE_51, dtype=torch.float64)
    for face in faces:
        truth = dlib_photo_to_chip(face["shape"], face["rgb"].shape[:2])
        points = torch.from_numpy(face["points68"][INNER_FIRST:].astype(np.float64))[None]
        ours = similarity_to_template(points, template)[0].numpy()
        chip_to_photo = [np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2] for m in (truth, ours)]
        apart = [grid @ m[:, :2].T + m[:, 2] for m in chip_to_photo]
        scale = np.sqrt(abs(np.linalg.det(truth[:, :2])))
        rms = np.sqrt(((apart[0] - apart[1]) ** 2).sum(axis=1).mean()) * scale
        assert rms < 5.0, (face["person"], rms)  # 1.5 px mean, 4.7 max on the 92 even-id photos


@pytest.mark.parametrize("size", [128, 256])
def test_chips_from_our_crops_give_dlibs_descriptor(faces, identity_net, size):
    crops, points = [], []
    for face in faces:
        alignment = align_face(face["points68"], size)
        crops.append(to_tensor(alignment.crop(face["rgb"])))
        points.append(torch.from_numpy(alignment.to_crop(face["points68"])))
    chips = identity_chip_from_crop(torch.cat(crops), torch.stack(points).float())
    assert chips.shape == (len(faces), 3, 150, 150) and 0 <= chips.min() and chips.max() <= 255
    with torch.no_grad():
        ours = identity_net(chips).numpy()
    for face, descriptor in zip(faces, ours):
        # measured on 18 even-id photos: mean 0.998, min 0.995 at 256 px; 0.997 / 0.995 at 128 px
        assert cosine(descriptor, face["dlib"]) >= 0.99, (face["person"], size)


def test_gradients_reach_the_crop_and_the_points(faces, identity_net, expression_net):
    face = faces[0]
    alignment = align_face(face["points68"], 128)
    crop = to_tensor(alignment.crop(face["rgb"])).requires_grad_(True)
    points = torch.from_numpy(alignment.to_crop(face["points68"]))[None].float().requires_grad_(True)
    target = torch.from_numpy(face["dlib"]).float()
    loss = (identity_net(identity_chip_from_crop(crop, points))[0] - target).pow(2).sum()
    loss = loss + torch.log_softmax(expression_net(expression_input_from_crop(crop, points)), dim=1)[0, 1]
    loss.backward()
    assert crop.grad is not None and torch.isfinite(crop.grad).all() and crop.grad.abs().sum() > 0
    assert points.grad is not None and torch.isfinite(points.grad).all() and points.grad.abs().sum() > 0


# ---------------------------------------------------------------- expression net


def test_expression_net_sees_the_smiles(london, detector, expression_net):
    inputs = {folder: [] for folder, _ in SHOTS}
    for person in EXPRESSION_IDS:
        for folder, suffix in SHOTS:
            rgb = london_rgb(folder, person, suffix)
            found = detector.detect(rgb)
            alignment = align_face(found[0].points68, 128)
            crop = to_tensor(alignment.crop(rgb))
            points = torch.from_numpy(alignment.to_crop(found[0].points68))[None].float()
            inputs[folder].append(expression_input_from_crop(crop, points))
    rates = {}
    for folder, images in inputs.items():
        batch = torch.cat(images)
        assert batch.shape == (len(EXPRESSION_IDS), 3, 112, 112)
        with torch.no_grad():
            probabilities = expression_net.probabilities(batch)
        torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(len(batch)))
        predicted = [EXPRESSION_CLASSES[i] for i in probabilities.argmax(dim=1).tolist()]
        rates[folder] = np.mean([name == "happy" for name in predicted])
    # measured on the first 40 people: happy on 75% of the smiling photos, 0% of the neutral
    assert rates["smiling_front"] >= 0.5, rates
    assert rates["neutral_front"] <= 0.2, rates


# ---------------------------------------------------------------- face-api package (npm)


@pytest.fixture(scope="module")
def faceapi_tarball(tmp_path_factory) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    folder = tmp_path_factory.mktemp("faceapi")
    try:
        result = subprocess.run(
            [npm, "pack", FACEAPI, "--silent", "--pack-destination", str(folder)],
            capture_output=True,
            text=True,
            timeout=180,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("npm pack timed out (offline?)")
    if result.returncode != 0:
        pytest.skip(f"npm pack {FACEAPI} failed (offline?): {result.stderr.strip()[-200:]}")
    return folder / result.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_conversion_reproduces_the_bundled_files(faceapi_tarball, tmp_path):
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "convert_faceapi.py"),
            "--tarball",
            str(faceapi_tarball),
            "--out-dir",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    manifest = json.loads((tmp_path / "manifest.json").read_text())["files"]
    bundled = json.loads((REPO_WEIGHTS_DIR / "manifest.json").read_text())["files"]
    for name in WEIGHT_FILES:
        assert (tmp_path / name).read_bytes() == (REPO_WEIGHTS_DIR / name).read_bytes(), name
        assert manifest[name] == bundled[name], name


# Runs face-api's own nets (its bundled TF.js, CPU backend) on raw float inputs.
FACEAPI_HARNESS = """
import fs from 'fs';
const [pkg, which, inPath, count, size, outPath] = process.argv.slice(2);
globalThis.window = globalThis; globalThis.document = { createElement: () => ({}) };  // pose as a browser
const faceapi = await import(`${pkg}/dist/face-api.esm.js`);
const tf = faceapi.tf;
await tf.setBackend('cpu'); await tf.ready();
const model = which === 'recognition' ? 'face_recognition_model' : 'face_expression_model';
const groups = JSON.parse(fs.readFileSync(`${pkg}/model/${model}-weights_manifest.json`));
const data = Buffer.concat(groups.flatMap((g) => g.paths.map((p) => fs.readFileSync(`${pkg}/model/${p}`))));
const weights = tf.io.decodeWeights(
  data.buffer.slice(data.byteOffset, data.byteOffset + data.length), groups.flatMap((g) => g.weights));
const net = which === 'recognition' ? faceapi.nets.faceRecognitionNet : faceapi.nets.faceExpressionNet;
net.loadFromWeightMap(weights);
const raw = fs.readFileSync(inPath);
const pixels = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
const n = +size * +size * 3, outputs = [];
for (let i = 0; i < +count; i++) {
  const image = tf.tensor3d(pixels.slice(i * n, (i + 1) * n), [+size, +size, 3]);
  outputs.push(Buffer.from((await net.forwardInput(await faceapi.toNetInput(image)).data()).buffer));
}
fs.writeFileSync(outPath, Buffer.concat(outputs));
"""


@pytest.mark.slow
def test_nets_match_faceapi_javascript(faceapi_tarball, tmp_path, identity_net, expression_net):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    with tarfile.open(faceapi_tarball) as tar:
        tar.extractall(tmp_path, filter="data")
    harness = tmp_path / "harness.mjs"
    harness.write_text(FACEAPI_HARNESS)
    rng = np.random.default_rng(0)
    for which, net, size in (("recognition", identity_net, 150), ("expression", expression_net, 112)):
        images = rng.uniform(0, 255, size=(2, size, size, 3)).astype(np.float32)
        images[1] = np.linspace(0, 255, size * size * 3, dtype=np.float32).reshape(size, size, 3)  # smooth
        (tmp_path / "in.bin").write_bytes(images.tobytes())
        subprocess.run(
            [
                node,
                str(harness),
                str(tmp_path / "package"),
                which,
                str(tmp_path / "in.bin"),
                "2",
                str(size),
                str(tmp_path / "out.bin"),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        theirs = np.frombuffer((tmp_path / "out.bin").read_bytes(), dtype=np.float32).reshape(2, -1)
        with torch.no_grad():
            batch = torch.from_numpy(images).permute(0, 3, 1, 2)
            ours = (net(batch) if which == "recognition" else net.probabilities(batch)).numpy()
        np.testing.assert_allclose(ours, theirs, atol=2e-6, err_msg=which)  # float32 rounding: ~3e-7 measured


# ---------------------------------------------------------------- refitting the chip template


def fit_chip_template(person_ids, detector) -> np.ndarray:
    """Mean position of our 51 inner points in dlib's chips over these people's London photos."""
    models = dlib_models()
    mapped = []
    for person in person_ids:
        for folder, suffix in SHOTS:
            if not (LONDON / folder / f"{person}_{suffix}.jpg").exists():
                continue
            rgb = london_rgb(folder, person, suffix)
            photo_to_chip = dlib_photo_to_chip(dlib_shape(models, rgb), rgb.shape[:2])
            points = detector.detect(rgb)[0].points68[INNER_FIRST:].astype(np.float64)
            mapped.append(points @ photo_to_chip[:, :2].T + photo_to_chip[:, 2])
    return np.mean(mapped, axis=0)


if __name__ == "__main__":
    from lgan_cli.faces.detect import FaceDetector

    odd = sorted({p.name[:3] for p in (LONDON / "neutral_front").glob("*_03.jpg") if int(p.name[:3]) % 2 == 1})
    with FaceDetector() as found:
        template = fit_chip_template(odd, found)
    print("CHIP_TEMPLATE_51: tuple[tuple[float, float], ...] = (")
    for start in range(0, len(template), 4):
        print("    " + " ".join(f"({x:.2f}, {y:.2f})," for x, y in template[start : start + 4]))
    print(")")
