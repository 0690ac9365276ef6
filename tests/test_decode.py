"""Tests for lgan_cli.faces.decode: every input is built in tmp_path at test time."""

from __future__ import annotations

import io
import os
import stat
import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lgan_cli.errors import ImageError
from lgan_cli.faces import decode
from lgan_cli.faces.decode import image_size, load_image, save_image

RED = (220, 20, 30)
BLUE = (20, 40, 220)
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# --------------------------------------------------------------------------- helpers


def assert_clear_error(excinfo: pytest.ExceptionInfo[ImageError], path: Path, *words: str) -> str:
    """The message is one line, names the file and contains the expected words."""
    message = str(excinfo.value)
    assert isinstance(excinfo.value, ImageError)
    assert "\n" not in message and "\r" not in message, message
    assert path.name in message, message
    for word in words:
        assert word in message.lower(), message
    return message


def solid(size: tuple[int, int], colour: tuple[int, ...], mode: str = "RGB") -> Image.Image:
    return Image.new(mode, size, colour)


def write(image: Image.Image, path: Path, **options: object) -> Path:
    image.save(path, **options)
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_header_size(source: Path, width: int, height: int) -> bytes:
    """A valid small PNG whose IHDR claims another size (CRC fixed so Pillow trusts it)."""
    data = bytearray(source.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def png_rgb48(pixels: np.ndarray) -> bytes:
    """Hand-made 16-bit-per-channel RGB PNG (Pillow cannot write one)."""
    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def strip_jpeg_segment(data: bytes, marker: int) -> bytes:
    """Remove every segment with the given marker (e.g. 0xEE, Adobe APP14) before the scan."""
    out, pos = bytearray(data[:2]), 2
    while pos < len(data):
        assert data[pos] == 0xFF
        kind = data[pos + 1]
        if kind == 0xDA:  # start of scan: the rest is entropy-coded data
            out += data[pos:]
            break
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if kind != marker:
            out += data[pos : pos + 2 + length]
        pos += 2 + length
    return bytes(out)


def fake_icc(colour_space: bytes) -> bytes:
    """Enough of an ICC header for the colour-space check (Pillow does not parse it)."""
    header = bytearray(128)
    header[0:4] = struct.pack(">I", 132)
    header[16:20] = colour_space
    header[36:40] = b"acsp"
    return bytes(header) + b"\x00" * 4


def assert_close(pixel: np.ndarray, expected: tuple[int, int, int], tolerance: int = 8) -> None:
    assert np.all(np.abs(pixel.astype(int) - np.array(expected)) <= tolerance), (pixel, expected)


# --------------------------------------------------------------------------- path problems


def test_nonexistent_path(tmp_path: Path) -> None:
    path = tmp_path / "missing.jpg"
    with pytest.raises(ImageError) as excinfo:
        load_image(path)
    assert_clear_error(excinfo, path, "does not exist")


def test_directory_given_as_file(tmp_path: Path) -> None:
    path = tmp_path / "album.jpg"
    path.mkdir()
    with pytest.raises(ImageError) as excinfo:
        load_image(path)
    assert_clear_error(excinfo, path, "folder")


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "pipe.png"
    os.mkfifo(path)
    with pytest.raises(ImageError) as excinfo:
        load_image(path)
    assert_clear_error(excinfo, path, "not a regular file")


@pytest.mark.skipif(IS_ROOT, reason="root can read a mode-000 file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(solid((64, 64), RED), tmp_path / "locked.png")
    path.chmod(0)
    try:
        with pytest.raises(ImageError) as excinfo:
            load_image(path)
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert_clear_error(excinfo, path, "permission denied")


def test_permission_denied_on_open_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same as above but works as root: the OS refusal is simulated for this one file."""
    path = write(solid((64, 64), RED), tmp_path / "locked.png")
    real_open = Path.open

    def refusing_open(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refusing_open)
    with pytest.raises(ImageError) as excinfo:
        load_image(path)
    assert_clear_error(excinfo, path, "permission denied")


def test_newline_in_file_name_keeps_message_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "two\nlines.jpg"
    with pytest.raises(ImageError) as excinfo:
        load_image(path)
    message = str(excinfo.value)
    assert "\n" not in message and "two\\nlines.jpg" in message


# --------------------------------------------------------------------------- bad content


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageError) as excinfo:
        load_image(path)
    assert_clear_error(excinfo, path, "empty")


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a photo\nsecond line\n")
    with pytest.raises(ImageError) as excinfo:
        load_image(path)
    assert_clear_error(excinfo, path, "not an image")


def test_truncated_jpeg(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(256, 256, 3), dtype=np.uint8)  # incompressible: big file
    whole = write(Image.fromarray(noise), tmp_path / "whole.jpg", quality=95)
    path = tmp_path / "half.jpg"
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError) as excinfo:
        load_image(path)
    assert_clear_error(excinfo, path, "truncated")
    assert load_image(whole).shape == (256, 256, 3)  # the uncut file is fine


def test_one_pixel_image_is_too_small(tmp_path: Path) -> None:
    path = write(solid((1, 1), RED), tmp_path / "pixel.png")
    with pytest.raises(ImageError) as excinfo:
        load_image(path)
    message = assert_clear_error(excinfo, path, "too small to contain a face")
    assert "1x1" in message


def test_min_side_is_configurable(tmp_path: Path) -> None:
    path = write(solid((20, 24), RED), tmp_path / "small.png")
    with pytest.raises(ImageError):
        load_image(path)
    assert load_image(path, min_side=16).shape == (24, 20, 3)


def test_decompression_bomb_header_is_refused_before_decoding(tmp_path: Path) -> None:
    small = write(solid((64, 64), RED), tmp_path / "small.png")
    path = tmp_path / "bomb.png"
    path.write_bytes(png_with_header_size(small, 100_000, 100_000))
    started = time.monotonic()
    with pytest.raises(ImageError) as excinfo:
        load_image(path, max_pixels=10**12)  # Pillow's hard limit (2x MAX_IMAGE_PIXELS) fires
    assert time.monotonic() - started < 5  # 10 gigapixels were never allocated
    assert_clear_error(excinfo, path, "too many pixels")


def test_pillow_bomb_warning_becomes_error_for_this_call_only(tmp_path: Path) -> None:
    small = write(solid((64, 64), RED), tmp_path / "small.png")
    path = tmp_path / "big.png"
    path.write_bytes(png_with_header_size(small, 10_000, 10_000))  # 1e8 > MAX_IMAGE_PIXELS
    assert Image.MAX_IMAGE_PIXELS is not None and 10**8 > Image.MAX_IMAGE_PIXELS
    filters_before = list(warnings.filters)
    with pytest.raises(ImageError) as excinfo:
        load_image(path, max_pixels=10**9)
    assert_clear_error(excinfo, path, "too many pixels")
    assert warnings.filters == filters_before


def test_max_pixels_names_size_and_limit(tmp_path: Path) -> None:
    path = write(solid((64, 48), RED), tmp_path / "photo.png")
    with pytest.raises(ImageError) as excinfo:
        load_image(path, max_pixels=1000)
    message = assert_clear_error(excinfo, path, "too many pixels")
    assert "64x48" in message and "1,000" in message


# --------------------------------------------------------------------------- colour modes


def test_result_is_contiguous_writable_uint8_rgb(tmp_path: Path) -> None:
    path = write(solid((40, 32), RED), tmp_path / "plain.png")
    array = load_image(str(path))
    assert array.shape == (32, 40, 3) and array.dtype == np.uint8
    assert array.flags.c_contiguous and array.flags.writeable
    assert tuple(array[0, 0]) == RED


def test_sixteen_bit_grey_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.zeros((32, 32), dtype=np.uint16)
    values[0, :3] = [0, 32768, 65535]
    values[1:, :] = 257 * 100  # 25700 -> 100
    source = Image.fromarray(values)
    assert source.mode == "I;16"
    path = write(source, tmp_path / "deep.png")
    array = load_image(path)
    assert tuple(array[0, 0]) == (0, 0, 0)
    assert abs(int(array[0, 1, 0]) - 128) <= 1 and len(set(array[0, 1])) == 1
    assert tuple(array[0, 2]) == (255, 255, 255)
    assert tuple(array[5, 5]) == (100, 100, 100)


@pytest.mark.parametrize("mode", ["I;16B", "I"])
def test_other_sixteen_bit_grey_modes_scale(tmp_path: Path, mode: str) -> None:
    source = Image.new(mode, (32, 32), 0)
    if mode == "I":
        source.putpixel((3, 0), -5)  # out of range: clipped to black, not wrapped to white
    source.putpixel((1, 0), 32768)
    source.putpixel((2, 0), 65535)
    path = write(source, tmp_path / "deep.tif")
    array = load_image(path)
    assert [int(array[0, x, 0]) for x in range(4)] == [0, 128, 255, 0]


def test_float_image_uses_pillow_0_to_255_range(tmp_path: Path) -> None:
    source = Image.new("F", (32, 32), 100.4)
    source.putpixel((0, 0), 300.0)
    source.putpixel((1, 0), -5.0)
    path = write(source, tmp_path / "float.tif")
    array = load_image(path)
    assert tuple(array[0, 0]) == (255, 255, 255)
    assert tuple(array[0, 1]) == (0, 0, 0)
    assert tuple(array[5, 5]) == (100, 100, 100)


def test_sixteen_bit_rgb_png(tmp_path: Path) -> None:
    pixels = np.zeros((32, 32, 3), dtype=np.uint16)
    pixels[...] = (65535, 0, 32768)
    path = tmp_path / "rgb48.png"
    path.write_bytes(png_rgb48(pixels))
    array = load_image(path)
    assert_close(array[10, 10], (255, 0, 128), tolerance=1)


def test_rgba_png_composites_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((32, 32, 4), dtype=np.uint8)
    rgba[...] = (0, 0, 0, 0)  # fully transparent black: must become white, not black
    rgba[0, 0] = (*RED, 255)  # opaque red keeps its colour
    rgba[0, 1] = (0, 0, 0, 128)  # half-transparent black: mid grey
    path = write(Image.fromarray(rgba), tmp_path / "alpha.png")
    array = load_image(path)
    assert tuple(array[10, 10]) == (255, 255, 255)
    assert tuple(array[0, 0]) == RED
    assert_close(array[0, 1], (127, 127, 127), tolerance=2)


def test_grey_with_alpha_png(tmp_path: Path) -> None:
    source = Image.new("LA", (32, 32), (0, 0))
    source.putpixel((0, 0), (60, 255))
    path = write(source, tmp_path / "la.png")
    array = load_image(path)
    assert tuple(array[5, 5]) == (255, 255, 255)
    assert tuple(array[0, 0]) == (60, 60, 60)


def test_grey_png(tmp_path: Path) -> None:
    path = write(solid((32, 32), 77, mode="L"), tmp_path / "grey.png")
    array = load_image(path)
    assert array.shape == (32, 32, 3) and tuple(array[3, 3]) == (77, 77, 77)


def test_one_bit_png(tmp_path: Path) -> None:
    source = Image.new("1", (32, 32), 0)
    source.putpixel((0, 0), 1)
    path = write(source, tmp_path / "bits.png")
    array = load_image(path)
    assert tuple(array[0, 0]) == (255, 255, 255) and tuple(array[1, 1]) == (0, 0, 0)


def palette_image() -> Image.Image:
    source = Image.new("P", (32, 32), 0)
    source.putpalette([*RED, *BLUE, 0, 200, 0] + [0] * (253 * 3))
    source.putpixel((0, 0), 1)
    source.putpixel((1, 0), 2)
    return source


def test_palette_png_keeps_colours(tmp_path: Path) -> None:
    path = write(palette_image(), tmp_path / "palette.png")
    array = load_image(path)
    assert tuple(array[5, 5]) == RED
    assert tuple(array[0, 0]) == BLUE
    assert tuple(array[0, 1]) == (0, 200, 0)


def test_palette_png_with_transparency(tmp_path: Path) -> None:
    path = write(palette_image(), tmp_path / "palette_t.png", transparency=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "palette images with transparency" warning leaks
        array = load_image(path)
    assert tuple(array[5, 5]) == (255, 255, 255)
    assert tuple(array[0, 0]) == BLUE


def test_cmyk_jpeg_written_by_pillow_is_not_negative(tmp_path: Path) -> None:
    source = solid((64, 64), (235, 10, 10)).convert("CMYK")
    path = write(source, tmp_path / "cmyk.jpg", quality=95)
    with Image.open(path) as check:
        assert check.mode == "CMYK" and "adobe" in check.info
    red, green, blue = (int(v) for v in load_image(path)[32, 32])
    assert red > 200 and green < 60 and blue < 60


def test_cmyk_jpeg_without_adobe_marker_is_plain_cmyk(tmp_path: Path) -> None:
    """Without an APP14 marker the samples are not inverted (as browsers assume)."""
    wanted = solid((64, 64), (235, 10, 10)).convert("CMYK")
    # Pillow's writer inverts on the way out; pre-invert so the stored samples are plain.
    inverted = Image.eval(wanted, lambda v: 255 - v)
    buffer = io.BytesIO()
    inverted.save(buffer, "JPEG", quality=95)
    path = tmp_path / "plain_cmyk.jpg"
    path.write_bytes(strip_jpeg_segment(buffer.getvalue(), 0xEE))
    with Image.open(path) as check:
        assert check.mode == "CMYK" and "adobe" not in check.info
    red, green, blue = (int(v) for v in load_image(path)[32, 32])
    assert red > 200 and green < 60 and blue < 60


# --------------------------------------------------------------------------- orientation, frames


def marked_jpeg(path: Path, orientation: int) -> Path:
    """60 wide x 40 high, blue, with a red 10x10 marker in the stored top-left corner."""
    source = solid((60, 40), BLUE)
    source.paste(RED, (0, 0, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return write(source, path, quality=95, exif=exif.tobytes())


def is_red(pixel: np.ndarray) -> bool:
    return pixel[0] > 180 and pixel[1] < 80 and pixel[2] < 80


@pytest.mark.parametrize(
    ("orientation", "corner"),
    [
        (6, "top-right"),  # stored row 0 is the visual right side, stored column 0 the top
        (8, "bottom-left"),  # stored row 0 is the visual left side, stored column 0 the bottom
        (3, "bottom-right"),  # rotated 180
        (1, "top-left"),
    ],
)
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int, corner: str) -> None:
    path = marked_jpeg(tmp_path / f"phone{orientation}.jpg", orientation)
    array = load_image(path)
    swapped = orientation in (6, 8)
    assert array.shape == ((60, 40, 3) if swapped else (40, 60, 3))
    height, width = array.shape[:2]
    corners = {
        "top-left": array[2, 2],
        "top-right": array[2, width - 3],
        "bottom-left": array[height - 3, 2],
        "bottom-right": array[height - 3, width - 3],
    }
    assert is_red(corners.pop(corner))
    assert not any(is_red(pixel) for pixel in corners.values())
    assert image_size(path) == (width, height)


def test_image_size_reads_header_only(tmp_path: Path) -> None:
    path = write(solid((300, 200), RED), tmp_path / "plain.png")
    assert image_size(path) == (300, 200)
    truncated = tmp_path / "truncated.png"
    data = path.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    assert image_size(truncated) == (300, 200)  # pixel data never touched
    with pytest.raises(ImageError):
        image_size(tmp_path / "missing.png")


def test_animated_gif_uses_first_frame(tmp_path: Path) -> None:
    frames = [solid((40, 40), RED), solid((40, 40), BLUE)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(path) as check:
        assert check.n_frames == 2
    assert_close(load_image(path)[20, 20], RED)


# --------------------------------------------------------------------------- save_image


def test_png_round_trip_is_pixel_exact_and_leaves_no_temp(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    path = tmp_path / "out.png"
    save_image(pixels, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
    np.testing.assert_array_equal(load_image(path), pixels)


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".PNG"])
def test_format_follows_suffix(tmp_path: Path, suffix: str) -> None:
    expected = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
    expected.update({".bmp": "BMP", ".tif": "TIFF", ".PNG": "PNG"})
    path = tmp_path / f"out{suffix}"
    save_image(np.full((40, 40, 3), 128, dtype=np.uint8), path)
    with Image.open(path) as check:
        assert check.format == expected[suffix]
    assert_close(load_image(path)[20, 20], (128, 128, 128), tolerance=3)


def test_saved_file_respects_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "out.png"
        save_image(np.zeros((8, 8, 3), dtype=np.uint8), path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_unknown_suffix_leaves_existing_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "out.gifv"
    path.write_bytes(b"old content")
    with pytest.raises(ImageError) as excinfo:
        save_image(np.zeros((8, 8, 3), dtype=np.uint8), path)
    assert_clear_error(excinfo, path, "unknown image suffix")
    assert path.read_bytes() == b"old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gifv"]


def test_failed_encode_leaves_existing_file_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"old content")

    def failing_save(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        fp.write(b"partial")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(ImageError) as excinfo:
        save_image(np.zeros((8, 8, 3), dtype=np.uint8), path)
    assert_clear_error(excinfo, path, "no space left")
    assert path.read_bytes() == b"old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_missing_folder_is_an_error_unless_make_parents(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "out.png"
    with pytest.raises(ImageError) as excinfo:
        save_image(np.zeros((8, 8, 3), dtype=np.uint8), path)
    assert_clear_error(excinfo, path, "does not exist")
    assert not (tmp_path / "new").exists()
    save_image(np.zeros((8, 8, 3), dtype=np.uint8), path, make_parents=True)
    assert path.is_file()


def test_parent_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    path = tmp_path / "file" / "out.png"
    with pytest.raises(ImageError) as excinfo:
        save_image(np.zeros((8, 8, 3), dtype=np.uint8), path)
    assert_clear_error(excinfo, path, "not a folder")


def test_target_that_is_a_folder_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    path.mkdir()
    with pytest.raises(ImageError) as excinfo:
        save_image(np.zeros((8, 8, 3), dtype=np.uint8), path)
    assert_clear_error(excinfo, path, "is a folder")


@pytest.mark.skipif(IS_ROOT, reason="root can write into a read-only folder")
def test_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(ImageError) as excinfo:
            save_image(np.zeros((8, 8, 3), dtype=np.uint8), folder / "out.png")
    finally:
        folder.chmod(stat.S_IRWXU)
    assert_clear_error(excinfo, folder / "out.png", "not writable")


def test_unwritable_folder_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Works as root too: the refusal to create the temp file is simulated."""
    real_open = os.open

    def refusing_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        creating_in_tmp = Path(os.fsdecode(path)).parent == tmp_path  # type: ignore[arg-type]
        if creating_in_tmp and flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refusing_open)
    with pytest.raises(ImageError) as excinfo:
        save_image(np.zeros((8, 8, 3), dtype=np.uint8), tmp_path / "out.png")
    assert_clear_error(excinfo, tmp_path / "out.png", "not writable")


def test_jpeg_keeps_rgb_icc_profile_but_not_orientation(tmp_path: Path) -> None:
    profile = fake_icc(b"RGB ")
    exif = Image.Exif()
    exif[0x0112] = 6
    source = write(solid((40, 60), RED), tmp_path / "src.jpg", icc_profile=profile, exif=exif.tobytes())
    out = tmp_path / "out.jpg"
    save_image(load_image(source), out, like=source)
    with Image.open(out) as check:
        assert check.info.get("icc_profile") == profile
        assert check.getexif().get(0x0112) is None
        assert check.size == (60, 40)  # upright pixels, no tag needed


def test_icc_profile_only_for_jpeg_to_jpeg_and_rgb(tmp_path: Path) -> None:
    pixels = np.full((40, 40, 3), 90, dtype=np.uint8)
    rgb_source = write(solid((40, 40), RED), tmp_path / "rgb.jpg", icc_profile=fake_icc(b"RGB "))
    cmyk_source = write(solid((40, 40), RED).convert("CMYK"), tmp_path / "cmyk.jpg", icc_profile=fake_icc(b"CMYK"))
    save_image(pixels, tmp_path / "a.png", like=rgb_source)  # PNG output: not copied
    save_image(pixels, tmp_path / "b.jpg", like=cmyk_source)  # CMYK profile would mislabel RGB
    png_source = write(solid((40, 40), RED), tmp_path / "src.png", icc_profile=fake_icc(b"RGB "))
    save_image(pixels, tmp_path / "c.jpg", like=png_source)  # source is not a JPEG
    for name in ("a.png", "b.jpg", "c.jpg"):
        with Image.open(tmp_path / name) as check:
            assert "icc_profile" not in check.info or not check.info["icc_profile"], name


def test_pil_input_with_alpha_saved_as_jpeg_is_flattened(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    path = tmp_path / "flat.jpg"
    save_image(rgba, path)
    assert_close(load_image(path)[16, 16], (255, 255, 255), tolerance=2)


def test_wrong_array_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        save_image(np.zeros((8, 8, 3), dtype=np.float32), tmp_path / "out.png")
    with pytest.raises(ValueError):
        save_image(np.zeros((8, 8, 2), dtype=np.uint8), tmp_path / "out.png")


def test_module_exports() -> None:
    assert set(decode.__all__) >= {"load_image", "save_image", "image_size"}
