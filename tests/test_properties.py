"""Property-based tests (hypothesis): whatever bytes or odd-but-valid pictures arrive, the
decoder returns upright RGB or one ImageError, and `lgan landmarks` answers in one line."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from lgan_cli.errors import ImageError
from lgan_cli.faces.decode import DEFAULT_MIN_SIDE, load_image

from conftest import run_cli

# mode -> formats that can store it
MODES = {
    "1": ("PNG", "BMP", "TIFF"),
    "L": ("PNG", "JPEG", "TIFF", "BMP", "WEBP", "GIF"),
    "LA": ("PNG", "TIFF"),
    "P": ("PNG", "BMP", "GIF", "TIFF"),
    "RGB": ("PNG", "JPEG", "TIFF", "BMP", "WEBP"),
    "RGBA": ("PNG", "TIFF", "WEBP"),
    "I;16": ("PNG", "TIFF"),
    "I": ("TIFF",),
    "F": ("TIFF",),
    "CMYK": ("JPEG", "TIFF"),
}
SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "BMP": ".bmp", "WEBP": ".webp", "GIF": ".gif"}


@st.composite
def odd_pictures(draw) -> tuple[bytes, str, tuple[int, int], int]:
    """(file bytes, suffix, stored (width, height), EXIF orientation) of a small valid picture."""
    mode = draw(st.sampled_from(sorted(MODES)))
    fmt = draw(st.sampled_from(MODES[mode]))
    width, height = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    seed = draw(st.integers(0, 2**32 - 1))
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 4), dtype=np.uint8)
    picture = Image.fromarray(pixels, "RGBA").convert(mode if mode not in ("I;16", "I", "F") else "L")
    if mode in ("I;16", "I", "F"):
        picture = picture.convert("I").point(lambda v: v * 257) if mode != "F" else picture.convert("F")
        if mode == "I;16":
            picture = picture.convert("I;16")
    orientation = draw(st.integers(1, 8)) if fmt in ("JPEG", "PNG", "TIFF", "WEBP") else 1
    buffer = io.BytesIO()
    options = {}
    if orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    picture.save(buffer, fmt, **options)
    return buffer.getvalue(), SUFFIX[fmt], (width, height), orientation


@contextmanager
def written(data: bytes, suffix: str) -> Iterator[Path]:
    """`data` as a file of its own for one example (hypothesis runs many per test)."""
    with tempfile.TemporaryDirectory(prefix="lgan-prop-") as folder:
        path = Path(folder) / f"picture{suffix}"
        path.write_bytes(data)
        yield path


def _decoded_or_refused(path: Path) -> np.ndarray | None:
    """The decoder's whole contract: an upright RGB uint8 array, or one ImageError line."""
    try:
        rgb = load_image(path)
    except ImageError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return None
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.flags.c_contiguous
    return rgb


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=4096), suffix=st.sampled_from([".jpg", ".png", ".webp", ".tif", ".gif", ".bmp", ""]))
def test_random_bytes_decode_or_fail_in_one_line(data, suffix):
    with written(data, suffix) as path:
        _decoded_or_refused(path)


@settings(max_examples=150, deadline=None)
@given(picture=odd_pictures(), cut=st.floats(0.0, 1.0), flips=st.lists(st.integers(0, 10**6), max_size=4))
def test_damaged_valid_pictures_decode_or_fail_in_one_line(picture, cut, flips):
    """Truncated and bit-flipped copies of real files of every mode and format."""
    data = bytearray(picture[0][: max(1, int(len(picture[0]) * cut))])
    for position in flips:
        data[position % len(data)] ^= 0x5A
    with written(bytes(data), picture[1]) as path:
        _decoded_or_refused(path)


@settings(max_examples=150, deadline=None)
@given(picture=odd_pictures())
def test_odd_valid_pictures_come_out_upright_rgb(picture):
    data, suffix, (width, height), orientation = picture
    with written(data, suffix) as path:
        rgb = _decoded_or_refused(path)
    if min(width, height) < DEFAULT_MIN_SIDE:
        assert rgb is None  # too small to hold a face: refused, never decoded
        return
    assert rgb is not None
    expected = (width, height) if orientation in (1, 2, 3, 4) else (height, width)
    assert rgb.shape[:2] == expected[::-1]


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picture=odd_pictures(), junk=st.binary(max_size=512), use_junk=st.booleans())
def test_landmarks_answers_any_file_in_one_line(picture, junk, use_junk, capsys):
    """`lgan landmarks` on odd pictures and junk: exit 0 with results, or 1 with one error line."""
    with written(*((junk, ".jpg") if use_junk else picture[:2])) as path:
        code, out, err = run_cli(["landmarks", path, "--json", "-"], capsys)
    assert "Traceback" not in out + err
    if code == 0:
        assert '"faces"' in out
    else:
        assert code == 1 and [line.startswith("error:") for line in err.splitlines()] == [True], err
