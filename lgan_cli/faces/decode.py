"""Read and write photos safely: upright RGB pixels in, atomic files out.

Every failure a user can cause (wrong path, unreadable file, not an image, truncated
download, absurdly large or tiny picture, unwritable output folder) becomes an
:class:`~lgan_cli.errors.ImageError` whose message is a single line naming the file,
so the CLI can print it as-is instead of a Pillow traceback.
"""

from __future__ import annotations

import stat
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageChops, ImageOps

from lgan_cli.errors import ImageError
from lgan_cli.fileio import atomic_writer

__all__ = ["DEFAULT_MAX_PIXELS", "DEFAULT_MIN_SIDE", "IMAGE_SUFFIXES", "image_size", "load_image", "save_image"]

DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS  # Pillow's own bomb limit (~89.5 MP)
"""Refuse larger images: 100 MP is above any phone camera and ~300 MB as RGB."""

DEFAULT_MIN_SIDE = 32
"""Below this a picture cannot hold a face the landmark detector can use."""

READ_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF", "PPM", "AVIF", "HEIF")
"""Formats ``Image.open`` may try (JPEG includes MPO, the multi-picture JPEG of cameras).

An allow-list rather than "anything Pillow knows": EPS/PS files are rasterised by
running Ghostscript, and a hostile file renamed to ``.jpg`` would otherwise reach it.
"""

SAVE_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}

IMAGE_SUFFIXES = tuple(SAVE_FORMATS)
"""The photo suffixes lgan looks for in folders and writes (lower case), one list for every command."""

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "PA")
_SWAPPING_ORIENTATIONS = (5, 6, 7, 8)  # transpose/rotate 90: width and height swap
_WHITE = (255, 255, 255, 255)


# --------------------------------------------------------------------------- messages


def _display(path: Path) -> str:
    """The path as printable text: a newline inside a file name must not split the message."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(path))


def _one_line(text: object) -> str:
    """Collapse Pillow/OS error text (which may span lines) into one line."""
    return " ".join(str(text).split())


def _error(path: Path, reason: str) -> ImageError:
    """Build the user-facing error ``<file>: <what is wrong>``.

    ``reason`` must already be one line: callers pass exception text through
    :func:`_one_line` (not the whole message, which would collapse spaces in file names).
    """
    return ImageError(f"{_display(path)}: {reason}")


# --------------------------------------------------------------------------- reading


def _check_regular_file(path: Path) -> None:
    """Give the precise reason a path cannot be an image before Pillow gives a vague one.

    Also refuses FIFOs and devices, which would make ``open()`` block or read forever.
    """
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise _error(path, "file does not exist") from None
    except PermissionError:
        raise _error(path, "permission denied (cannot access the file)") from None
    except OSError as exc:
        raise _error(path, f"cannot access the file ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise _error(path, "is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise _error(path, "is not a regular file")
    if info.st_size == 0:
        raise _error(path, "file is empty (0 bytes)")


def _available_read_formats() -> tuple[str, ...]:
    """:data:`READ_FORMATS` that this Pillow can open.

    ``Image.open(formats=...)`` raises ``KeyError`` for a name with no registered plugin
    (AVIF in older Pillow, HEIF unless pillow-heif is loaded), so those are left out.
    Computed per call because plugins such as pillow-heif register themselves late.
    """
    Image.init()
    return tuple(name for name in READ_FORMATS if name in Image.OPEN)


@contextmanager
def _open_image(path: Path, max_pixels: int) -> Iterator[Image.Image]:
    """Open ``path`` lazily (header only) and refuse decompression bombs.

    Pillow's own bomb check runs inside ``Image.open``: above ``Image.MAX_IMAGE_PIXELS``
    it only *warns*, so the warning is made an error here, for this call only
    (``catch_warnings`` restores the filters on exit). Our ``max_pixels`` is then
    checked against the header size, still before any pixel data is decoded.
    """
    _check_regular_file(path)
    try:
        handle = path.open("rb")
    except PermissionError:
        raise _error(path, "permission denied (file is not readable)") from None
    except OSError as exc:
        raise _error(path, f"cannot open the file ({exc.strerror or exc})") from None

    with handle, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(handle, formats=_available_read_formats())
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _error(path, f"too many pixels to decode safely ({_one_line(exc)})") from None
        except Image.UnidentifiedImageError:
            raise _error(path, "not an image (or not a JPEG/PNG/WebP/BMP/TIFF/GIF file)") from None
        except Exception as exc:  # Pillow's header parsers raise many types on bad input
            raise _error(path, f"corrupt image header ({_one_line(exc)})") from None
        with image:
            width, height = image.size
            if width * height > max_pixels:
                raise _error(
                    path,
                    f"too many pixels: {width}x{height} = {width * height:,} pixels "
                    f"exceeds the limit of {max_pixels:,}",
                )
            yield image


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1..8) that is available without decoding pixels.

    ``PngImageFile.getexif()`` decodes the whole image when no eXIf chunk was seen in
    the header, so for PNG only an eXIf chunk before the pixel data is considered.
    """
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a malformed EXIF block: show the pixels as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _upright_size(image: Image.Image) -> tuple[int, int]:
    """Width and height as an EXIF-aware viewer would display them."""
    width, height = image.size
    if _orientation(image) in _SWAPPING_ORIENTATIONS:
        return height, width
    return width, height


def _check_min_side(path: Path, size: tuple[int, int], min_side: int) -> None:
    """Refuse thumbnails and 1x1 tracking pixels with a message saying why."""
    width, height = size
    if min(width, height) < min_side:
        raise _error(
            path,
            f"image is {width}x{height} pixels, too small to contain a face (need at least {min_side} px on each side)",
        )


def _sixteen_bit_to_l(image: Image.Image) -> Image.Image:
    """Scale 16-bit grey (0..65535) to 8-bit (0..255).

    Pillow's ``convert("L"/"RGB")`` clips these modes at 255 instead of scaling, which
    turns almost every 16-bit photo white. Mode ``I`` (32-bit int, how older Pillow
    opens 16-bit PNGs) is assumed to hold the same 0..65535 range.
    """
    values = np.clip(np.asarray(image).astype(np.int64), 0, 65535)  # int64: I;16B and signed I
    scaled = (values * 255 + 32767) // 65535  # rounded: 65535 -> 255, 32768 -> 128
    return Image.fromarray(scaled.astype(np.uint8))  # 2-D uint8 -> mode "L"


def _float_to_l(image: Image.Image) -> Image.Image:
    """Float images follow Pillow's convention of a 0..255 range; round and clip."""
    values = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0)
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))


def _has_alpha(image: Image.Image) -> bool:
    """True for alpha channels and for palette/colour-key transparency (PNG tRNS)."""
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def _flatten_on_white(image: Image.Image) -> Image.Image:
    """Composite a transparent image onto white, as a browser on a white page shows it.

    Simply dropping alpha would reveal whatever colour the transparent pixels happen to
    store (often black), which the face detector would then see.
    """
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, _WHITE), rgba).convert("RGB")


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    """Convert CMYK JPEG pixels to RGB without producing a negative.

    Pillow always decodes CMYK JPEGs with Adobe (inverted) polarity. That is right for
    files carrying an Adobe APP14 marker (Photoshop, and Pillow's own writer) but
    inverts files without one; browsers (Chromium/Skia) treat those as plain CMYK, and
    so do we.
    """
    if image.format in ("JPEG", "MPO") and "adobe" not in image.info:
        image = ImageChops.invert(image)
    return image.convert("RGB")


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB with the right tone and colour."""
    if image.mode in _SIXTEEN_BIT_MODES:
        image = _sixteen_bit_to_l(image)
    elif image.mode == "F":
        image = _float_to_l(image)
    elif _has_alpha(image):
        image = _flatten_on_white(image)
    elif image.mode == "CMYK":
        image = _cmyk_to_rgb(image)
    return image if image.mode == "RGB" else image.convert("RGB")


def _make_upright(image: Image.Image) -> None:
    """Apply the EXIF orientation in place (pixels must already be loaded).

    A malformed EXIF block must not cost the user a photo whose pixels are fine: then
    the orientation is unknown and the pixels are kept as stored, as viewers do.
    """
    try:
        ImageOps.exif_transpose(image, in_place=True)
    except Exception:
        pass


def _decode_rgb(path: Path, image: Image.Image) -> np.ndarray:
    """Decode all pixels of the current (first) frame, make them upright RGB.

    ``load()`` forces the full decode here so a truncated download fails with a clear
    message now, rather than deep inside the model later.
    ``ImageFile.LOAD_TRUNCATED_IMAGES`` stays off on purpose: half a face is not a face.
    """
    try:
        image.load()
        _make_upright(image)
        rgb = _to_rgb(image)
        return np.array(rgb, dtype=np.uint8)  # a copy: writable and C-contiguous
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _error(path, f"too many pixels to decode safely ({_one_line(exc)})") from None
    except MemoryError:
        raise _error(path, "not enough memory to decode the image") from None
    except Exception as exc:  # decoders raise OSError, SyntaxError, ValueError, ...
        raise _error(path, f"truncated or corrupt image data ({_one_line(exc)})") from None


def load_image(
    path: str | Path,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    *,
    min_side: int = DEFAULT_MIN_SIDE,
) -> np.ndarray:
    """Read an image file as an upright RGB ``uint8`` array of shape (H, W, 3).

    The EXIF orientation is applied (phone photos come out upright), transparency is
    composited onto white, 16-bit and CMYK images are converted properly, and only the
    first frame of an animated file is used.

    Besides ``max_pixels``, Pillow's own ``Image.MAX_IMAGE_PIXELS`` (about 89.5 MP by
    default) is enforced, so the effective limit is the smaller of the two.

    Raises:
        ImageError: one-line message naming the file, for any unusable input.
    """
    path = Path(path)
    with _open_image(path, max_pixels) as image:
        _check_min_side(path, _upright_size(image), min_side)
        return _decode_rgb(path, image)


def image_size(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """``(width, height)`` as displayed (after EXIF orientation), reading only the header.

    Cheap enough for folder listings. For PNG, an eXIf chunk placed after the pixel
    data is not seen (reading it would mean decoding the image).

    Raises:
        ImageError: as :func:`load_image`, except for problems in the pixel data.
    """
    path = Path(path)
    with _open_image(path, max_pixels) as image:
        return _upright_size(image)


# --------------------------------------------------------------------------- writing


def _output_format(path: Path) -> str:
    """Pillow format name for the output suffix, so ``x.png`` really is a PNG."""
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(SAVE_FORMATS))
        raise _error(path, f"unknown image suffix {path.suffix!r} (use one of {known})")
    return fmt


def _ensure_folder(path: Path, make_parents: bool) -> None:
    """Check the output folder exists (creating it only when asked) and the target is no folder."""
    folder = path.parent
    if make_parents:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = f"cannot create folder {_display(folder)} ({exc.strerror or exc})"
            raise _error(path, reason) from None
    if not folder.is_dir():
        why = "is not a folder" if folder.exists() else "does not exist"
        raise _error(path, f"output folder {_display(folder)} {why}")
    if path.is_dir():
        raise _error(path, "is a folder; give a file name to write the image to")


def _as_pil(image: np.ndarray | Image.Image) -> Image.Image:
    """Accept the arrays :func:`load_image` returns (or grey/RGBA ones) and PIL images."""
    if isinstance(image, Image.Image):
        return image
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"save_image expects a uint8 array, got {array.dtype}")
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ValueError(f"save_image expects an (H, W), (H, W, 3) or (H, W, 4) array, got {array.shape}")
    return Image.fromarray(np.ascontiguousarray(array))


def _prepare_for_format(image: Image.Image, fmt: str) -> Image.Image:
    """JPEG has no alpha and no 16-bit: flatten like :func:`load_image` would."""
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        return _to_rgb(image)
    return image


def _rgb_icc_profile_of_jpeg(source: Path) -> bytes | None:
    """The source JPEG's ICC profile, if it is an RGB one.

    Best effort: the source was read before, and failing the save over metadata would
    be worse than writing without it. A CMYK or grey profile would mislabel the RGB
    pixels we write, so only ``RGB `` profiles qualify. The EXIF block (and with it the
    orientation tag) is deliberately not copied: the pixels we write are already upright.
    """
    try:
        with Image.open(source, formats=("JPEG",)) as image:
            profile = image.info.get("icc_profile")
    except Exception:
        return None
    if isinstance(profile, bytes) and profile[16:20] == b"RGB ":
        return profile
    return None


def _save_options(fmt: str, quality: int, icc_profile: bytes | None) -> dict[str, object]:
    """Encoder settings. ``icc_profile`` is always passed (even None) because PNG and TIFF
    would otherwise copy whatever profile a PIL input image happens to carry."""
    options: dict[str, object] = {"icc_profile": icc_profile}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    return options


def _write_atomically(image: Image.Image, path: Path, fmt: str, options: dict[str, object]) -> None:
    """Encode through `atomic_writer`: readers see the old file or the complete new one."""
    try:
        with atomic_writer(path) as handle:
            image.save(handle, format=fmt, **options)
    except PermissionError:
        raise _error(path, f"output folder {_display(path.parent)} is not writable") from None
    except Exception as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise _error(path, f"could not write the image ({_one_line(reason)})") from None


def save_image(
    image: np.ndarray | Image.Image,
    path: str | Path,
    *,
    quality: int = 95,
    like: str | Path | None = None,
    make_parents: bool = False,
) -> None:
    """Write ``image`` to ``path`` atomically, in the format named by its suffix.

    ``image`` is an (H, W, 3) RGB / (H, W) grey / (H, W, 4) RGBA ``uint8`` array or a PIL
    image. ``quality`` applies to JPEG and WebP. When ``like`` (the source photo) is a
    JPEG and the output is a JPEG, the source's RGB ICC profile is kept so colours look
    the same; no EXIF is copied. The output folder must exist unless ``make_parents``.

    Raises:
        ImageError: unknown suffix, missing or unwritable folder, or the write failed.
        ValueError: ``image`` is an array of the wrong dtype or shape (a programming error).
    """
    path = Path(path)
    fmt = _output_format(path)
    pil_image = _prepare_for_format(_as_pil(image), fmt)
    _ensure_folder(path, make_parents)
    icc_profile = None
    if like is not None and fmt == "JPEG" and pil_image.mode == "RGB":
        icc_profile = _rgb_icc_profile_of_jpeg(Path(like))  # RGB profile: RGB pixels only
    _write_atomically(pil_image, path, fmt, _save_options(fmt, quality, icc_profile))
