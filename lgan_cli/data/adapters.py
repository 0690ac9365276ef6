"""Dataset adapters: turn a dataset folder into a sorted list of `FaceRecord`s.

Each adapter reads labels from the dataset's published file names (or, for `folder`, from
a CSV) and never opens an image, so scanning is fast and works on any copy of the data.
Files whose names do not follow the layout (README, Thumbs.db, .DS_Store, macOS `._`
copies, landmark or 3D files) are skipped rather than treated as errors, because real
downloads contain plenty of them. Expression names are mapped onto `RAFD_EXPRESSIONS`.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable
from pathlib import Path

from lgan_cli.data.records import FaceRecord, record_sort_key
from lgan_cli.errors import DatasetError
from lgan_cli.names import SAFE_NAME_RULE, is_safe_name, shown

Adapter = Callable[[Path], list[FaceRecord]]

_HIDDEN_DIRS = {"__MACOSX"}


def _is_hidden(relative: Path) -> bool:
    """True for files inside (or named like) hidden or macOS-archive folders."""
    return any(part.startswith(".") or part in _HIDDEN_DIRS for part in relative.parts)


def _files(root: Path, recursive: bool) -> list[Path]:
    """Visible regular files under `root` in a stable order; [] when `root` is no folder."""
    if not root.is_dir():
        return []
    candidates = root.rglob("*") if recursive else root.iterdir()
    return sorted(p for p in candidates if p.is_file() and not _is_hidden(p.relative_to(root)))


def _sorted(records: list[FaceRecord]) -> list[FaceRecord]:
    return sorted(records, key=record_sort_key)


# --- RaFD -------------------------------------------------------------------------------

_RAFD_NAME = re.compile(
    r"^Rafd(?P<camera>000|045|090|135|180)_(?P<subject>\d+)_(?P<ethnicity>[A-Za-z]+)_"
    r"(?P<gender>female|male)_"
    r"(?P<expression>angry|contemptuous|disgusted|fearful|happy|neutral|sad|surprised)_"
    r"(?P<gaze>frontal|left|right)\.(?:jpe?g|png)$",
    re.IGNORECASE,
)


def scan_rafd(root: Path) -> list[FaceRecord]:
    """RaFD: `Rafd090_01_Caucasian_female_angry_frontal.jpg`.

    Camera angle and gaze go into attrs: a pair of photos only shows an expression
    change if both were taken from the same camera with the same gaze.
    """
    records = []
    for path in _files(root, recursive=True):
        match = _RAFD_NAME.match(path.name)
        if match is None:
            continue
        records.append(
            FaceRecord(
                path=path,
                identity=match["subject"],
                expression=match["expression"].lower(),
                intensity=None,
                attrs=(("camera", match["camera"]), ("gaze", match["gaze"].lower())),
            )
        )
    return _sorted(records)


#: Two-letter expression codes shared by JAFFE and BU-3DFE.
_EXPRESSION_CODES = {
    "AN": "angry",
    "DI": "disgusted",
    "FE": "fearful",
    "HA": "happy",
    "NE": "neutral",
    "SA": "sad",
    "SU": "surprised",
}

# --- JAFFE ------------------------------------------------------------------------------

_JAFFE_NAME = re.compile(
    r"^(?P<subject>[A-Za-z]{2,3})\.(?P<code>AN|DI|FE|HA|NE|SA|SU)(?P<repeat>\d+)\."
    r"(?P<index>\d+)\.tiff?$",
    re.IGNORECASE,
)


def scan_jaffe(root: Path) -> list[FaceRecord]:
    """JAFFE: `KA.AN1.39.tiff` (subject, expression code + repeat, image index)."""
    records = []
    for path in _files(root, recursive=True):
        match = _JAFFE_NAME.match(path.name)
        if match is None:
            continue
        records.append(
            FaceRecord(
                path=path,
                identity=match["subject"].upper(),
                expression=_EXPRESSION_CODES[match["code"].upper()],
                intensity=None,
            )
        )
    return _sorted(records)


# --- BU-3DFE ----------------------------------------------------------------------------

_BU3DFE_NAME = re.compile(
    r"^(?P<subject>[FM]\d{4})_(?P<code>AN|DI|FE|HA|NE|SA|SU)(?P<level>\d{2})"
    r"(?P<ethnicity>[A-Z]{2})_F2D\.(?:bmp|png|jpe?g)$",
    re.IGNORECASE,
)


def _bu3dfe_intensity(code: str, level: str) -> int | None:
    """Intensity 1..4 for graded expressions, None for neutral (NE00)."""
    return None if code == "NE" else int(level)


def _bu3dfe_level_valid(code: str, level: str) -> bool:
    """NE comes only as 00 and the graded expressions only as 01..04; anything else
    (NE01, AN00, AN05) merely looks like a BU-3DFE texture name."""
    if code == "NE":
        return level == "00"
    return 1 <= int(level) <= 4


def scan_bu3dfe(root: Path) -> list[FaceRecord]:
    """BU-3DFE 2D textures: `F0001_AN01WH_F2D.bmp`, possibly in per-subject folders.

    The 3D files next to them (`_F3D.wrl`, `.bnd`) are ignored.
    """
    records = []
    for path in _files(root, recursive=True):
        match = _BU3DFE_NAME.match(path.name)
        if match is None:
            continue
        code = match["code"].upper()
        if not _bu3dfe_level_valid(code, match["level"]):
            continue
        records.append(
            FaceRecord(
                path=path,
                identity=match["subject"].upper(),
                expression=_EXPRESSION_CODES[code],
                intensity=_bu3dfe_intensity(code, match["level"]),
            )
        )
    return _sorted(records)


# --- FERG -------------------------------------------------------------------------------

_FERG_EXPRESSIONS = {
    "anger": "angry",
    "disgust": "disgusted",
    "fear": "fearful",
    "joy": "happy",
    "neutral": "neutral",
    "sadness": "sad",
    "surprise": "surprised",
}

_FERG_NAME = re.compile(
    r"^(?P<character>aia|bonnie|jules|malcolm|mery|ray)_"
    r"(?P<emotion>anger|disgust|fear|joy|neutral|sadness|surprise)_(?P<n>\d+)\.png$",
    re.IGNORECASE,
)


def _ferg_base(root: Path) -> Path:
    """Accept both the folder holding `FERG_DB_256` and `FERG_DB_256` itself."""
    nested = root / "FERG_DB_256"
    return nested if nested.is_dir() else root


def scan_ferg(root: Path) -> list[FaceRecord]:
    """FERG: `FERG_DB_256/<character>/<character>_<emotion>/<character>_<emotion>_<n>.png`.

    The two folder names must agree with the file name, so a file dropped into the
    wrong folder is not silently given the wrong label.
    """
    base = _ferg_base(root)
    records = []
    for path in _files(base, recursive=True):
        match = _FERG_NAME.match(path.name)
        if match is None:
            continue
        character = match["character"].lower()
        emotion = match["emotion"].lower()
        folders = tuple(part.lower() for part in path.relative_to(base).parts[:-1])
        if folders != (character, f"{character}_{emotion}"):
            continue
        records.append(
            FaceRecord(
                path=path,
                identity=character,
                expression=_FERG_EXPRESSIONS[emotion],
                intensity=None,
            )
        )
    return _sorted(records)


# --- Face Research Lab London -----------------------------------------------------------

_LONDON_FOLDERS = {
    # folder: (file-name pattern, expression)
    "neutral_front": (re.compile(r"^(?P<id>\d+)_03\.jpe?g$", re.IGNORECASE), "neutral"),
    "smiling_front": (re.compile(r"^(?P<id>\d+)_08\.jpe?g$", re.IGNORECASE), "happy"),
}


def scan_london(root: Path) -> list[FaceRecord]:
    """London set: `neutral_front/NNN_03.jpg` (neutral), `smiling_front/NNN_08.jpg` (happy).

    `london_info.csv` (age, gender, ethnicity) is deliberately not read: those are not
    labels the model is trained on, and keeping attrs empty lets both photos of a
    person pair up.
    """
    records = []
    for folder, (pattern, expression) in _LONDON_FOLDERS.items():
        for path in _files(root / folder, recursive=False):
            match = pattern.match(path.name)
            if match is None:
                continue
            records.append(FaceRecord(path=path, identity=match["id"], expression=expression, intensity=None))
    return _sorted(records)


# --- Custom folder with a labels CSV ----------------------------------------------------

_CSV_REQUIRED = ("path", "identity", "expression")
_CSV_OPTIONAL = ("intensity",)
_CSV_HEADER_HELP = "path,identity,expression[,intensity]"


def _labels_csv(root: Path) -> Path:
    """The CSV itself, or `labels.csv` inside the folder."""
    if root.is_file():
        return root
    csv_path = root / "labels.csv"
    if not csv_path.is_file():
        raise DatasetError(f"no labels.csv in {root}; expected a CSV with header {_CSV_HEADER_HELP}")
    return csv_path


def _check_header(csv_path: Path, header: list[str]) -> None:
    missing = [name for name in _CSV_REQUIRED if name not in header]
    unknown = [name for name in header if name not in _CSV_REQUIRED + _CSV_OPTIONAL]
    if missing or unknown or len(set(header)) != len(header):
        raise DatasetError(f"{csv_path}, line 1: header must be {_CSV_HEADER_HELP}, got {','.join(header)}")


def _expression(where: str, name: str) -> str:
    """A CSV's expression name; it becomes part of file names, so only the safe alphabet."""
    if not is_safe_name(name):
        raise DatasetError(f"{where}: expression {shown(name)} is not a usable name ({SAFE_NAME_RULE})")
    return name


def _row_path(where: str, root: Path, text: str, allow_outside_root: bool) -> Path:
    """A CSV row's image path: relative to the CSV's folder and inside it, unless allowed.

    Checked on the written path (no '..' climbing out, not absolute), not on where symlinks
    lead: links the dataset's owner made inside the folder are part of the dataset.
    """
    path = root / text
    inside = not Path(text).is_absolute() and Path(os.path.normpath(text)).parts[:1] != ("..",)
    if not inside and not allow_outside_root:
        raise DatasetError(
            f"{where}: {text!r} is outside the dataset folder {root} (paths are relative to the CSV; "
            "`lgan prepare --allow-outside-root` accepts others)"
        )
    return path


def _parse_row(
    csv_path: Path, line: int, header: list[str], row: list[str], allow_outside_root: bool = False
) -> FaceRecord:
    """One CSV row -> record; any problem names the file and line so it can be fixed."""
    where = f"{csv_path}, line {line}"
    if len(row) != len(header):
        raise DatasetError(f"{where}: expected {len(header)} columns ({','.join(header)}), got {len(row)}")
    values = {name: value.strip() for name, value in zip(header, row)}
    for name in _CSV_REQUIRED:
        if not values[name]:
            raise DatasetError(f"{where}: the {name} column is empty")
    path = _row_path(where, csv_path.parent, values["path"], allow_outside_root)
    if not path.is_file():
        raise DatasetError(f"{where}: image not found: {path}")
    intensity_text = values.get("intensity", "")
    intensity = None
    if intensity_text:
        try:
            intensity = int(intensity_text)
        except ValueError:
            raise DatasetError(f"{where}: intensity {intensity_text!r} is not a whole number") from None
    return FaceRecord(
        path=path,
        identity=values["identity"],
        expression=_expression(where, values["expression"].lower()),
        intensity=intensity,
    )


def scan_folder(root: Path, allow_outside_root: bool = False) -> list[FaceRecord]:
    """Any dataset described by a CSV: header `path,identity,expression[,intensity]`.

    `root` is the CSV or a folder holding `labels.csv`; image paths are relative to the
    CSV's folder. Expression names are kept (lower-cased), so custom datasets may use
    their own. Unlike the name-based adapters, a bad row is an error: every row in a
    hand-written CSV is meant to be used, so a photo listed twice is an error too. Paths
    must stay inside the CSV's folder unless `allow_outside_root`.
    """
    csv_path = _labels_csv(root)
    records = []
    first_line: dict[str, int] = {}
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [name.strip().lower() for name in next(reader, [])]
            _check_header(csv_path, header)
            for row in reader:
                if not any(field.strip() for field in row):
                    continue  # blank line
                record = _parse_row(csv_path, reader.line_num, header, row, allow_outside_root)
                listed = os.path.normpath(record.path)
                if listed in first_line:
                    raise DatasetError(
                        f"{csv_path}, line {reader.line_num}: {record.path} "
                        f"is already listed on line {first_line[listed]}"
                    )
                first_line[listed] = reader.line_num
                records.append(record)
    except UnicodeDecodeError:
        raise DatasetError(f"{csv_path} is not a UTF-8 text CSV") from None
    except csv.Error as exc:
        raise DatasetError(f"{csv_path}: malformed CSV ({exc})") from None
    return _sorted(records)


# --- Registry ---------------------------------------------------------------------------

ADAPTERS: dict[str, Adapter] = {
    "rafd": scan_rafd,
    "jaffe": scan_jaffe,
    "bu3dfe": scan_bu3dfe,
    "ferg": scan_ferg,
    "london": scan_london,
    "folder": scan_folder,
}

#: What each adapter looks for, quoted in error messages when it finds nothing.
EXPECTED_NAMES: dict[str, str] = {
    "rafd": "Rafd090_01_Caucasian_female_angry_frontal.jpg",
    "jaffe": "KA.AN1.39.tiff",
    "bu3dfe": "F0001_AN01WH_F2D.bmp (in any subfolder)",
    "ferg": "FERG_DB_256/aia/aia_joy/aia_joy_1.png",
    "london": "neutral_front/001_03.jpg and smiling_front/001_08.jpg",
    "folder": f"labels.csv with header {_CSV_HEADER_HELP}",
}


#: The terms of each dataset, written into every model trained on it (config.json, model card):
#: the weights carry their training data's licence. `ict-synth` is what `lgan synth` renders.
DATASET_LICENCES: dict[str, str] = {
    "london": "CC BY 4.0: DeBruine, L., & Jones, B. (2017). Face Research Lab London Set. "
    "https://doi.org/10.6084/m9.figshare.5047666.v5",
    "rafd": "Radboud Faces Database: research use under its own licence; weights trained on it inherit its terms",
    "jaffe": "JAFFE: non-commercial research use under its own licence; weights trained on it inherit its terms",
    "bu3dfe": "BU-3DFE: research use under its own licence; weights trained on it inherit its terms",
    "ferg": "FERG-DB: research use under its own licence; weights trained on it inherit its terms",
    "folder": "user-supplied data: see its own licence",
    "ict-synth": "MIT: synthetic faces rendered by `lgan synth` from the ICT Face Model Light "
    "(ICT-FaceKit, USC Institute for Creative Technologies, MIT licence)",
}


def scan_dataset(name: str, root: Path | str, allow_outside_root: bool = False) -> list[FaceRecord]:
    """Scan `root` with the named adapter, turning every way of finding nothing into a
    one-line `DatasetError` that says what was expected. `allow_outside_root`: a `folder`
    CSV may name photos outside its folder."""
    key = name.strip().lower()
    if key not in ADAPTERS:
        known = ", ".join(sorted(ADAPTERS))
        raise DatasetError(f"unknown dataset {name!r}; known datasets: {known}")
    root = Path(root).expanduser()
    expected = EXPECTED_NAMES[key]
    if not root.exists():
        raise DatasetError(f"{key} dataset root not found: {root}")
    if root.is_file() and key != "folder":
        raise DatasetError(f"{key} dataset root {root} is a file; give the folder holding files like {expected}")
    records = scan_folder(root, allow_outside_root) if key == "folder" else ADAPTERS[key](root)
    if not records:
        raise DatasetError(f"no {key} images found in {root}; expected file names like {expected}")
    return records
