"""Dataset adapters: labels parsed from the published file layouts, junk ignored, errors
that tell the user what was expected. Synthetic trees use empty files: adapters must
never open images while scanning."""

from __future__ import annotations

from pathlib import Path

import pytest

from lgan_cli.data.adapters import (
    ADAPTERS,
    scan_bu3dfe,
    scan_dataset,
    scan_ferg,
    scan_folder,
    scan_jaffe,
    scan_london,
    scan_rafd,
)
from lgan_cli.data.records import RAFD_EXPRESSIONS, FaceRecord
from lgan_cli.errors import DatasetError

LONDON = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "london"

JUNK = (".DS_Store", "Thumbs.db", "README.txt", "README")


def touch(root: Path, *names: str) -> None:
    """Create empty files (and their folders) under root."""
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def labels(records: list[FaceRecord]) -> list[tuple]:
    """What an adapter parsed, without the folder prefix, in the order it returned."""
    return [(r.path.name, r.identity, r.expression, r.intensity, r.attrs_dict) for r in records]


# --- FaceRecord -------------------------------------------------------------------------


def test_record_attrs_are_order_independent_and_hashable():
    a = FaceRecord(Path("x.jpg"), "01", "happy", None, (("gaze", "left"), ("camera", "090")))
    b = FaceRecord(Path("x.jpg"), "01", "happy", None, (("camera", "090"), ("gaze", "left")))
    assert a == b
    assert len({a, b}) == 1
    assert a.attr("camera") == "090"
    assert a.attr("missing") is None
    assert a.attrs_dict == {"camera": "090", "gaze": "left"}
    with pytest.raises(AttributeError):
        a.identity = "02"  # type: ignore[misc]


def test_canonical_expressions():
    assert RAFD_EXPRESSIONS[0] == "neutral"
    assert len(set(RAFD_EXPRESSIONS)) == 8


def test_registry_names():
    assert set(ADAPTERS) == {"rafd", "jaffe", "bu3dfe", "ferg", "london", "folder"}


# --- RaFD -------------------------------------------------------------------------------


def test_rafd_parses_camera_subject_expression_gaze(tmp_path):
    touch(
        tmp_path,
        "Rafd090_01_Caucasian_female_angry_frontal.jpg",
        "Rafd045_01_Caucasian_female_neutral_left.JPG",
        "sub/Rafd180_12_Moroccan_male_contemptuous_right.png",
        "Rafd000_12_Kid_male_surprised_frontal.jpg",
        *JUNK,
        "._Rafd090_01_Caucasian_female_angry_frontal.jpg",  # macOS resource fork
        "Rafd091_01_Caucasian_female_angry_frontal.jpg",  # no such camera
        "Rafd090_01_Caucasian_female_bored_frontal.jpg",  # no such expression
        "Rafd090_01_Caucasian_female_angry_frontal.txt",
        "Rafd090_01_Caucasian_female_angry_up.jpg",  # no such gaze
    )
    assert labels(scan_rafd(tmp_path)) == [
        ("Rafd090_01_Caucasian_female_angry_frontal.jpg", "01", "angry", None, {"camera": "090", "gaze": "frontal"}),
        ("Rafd045_01_Caucasian_female_neutral_left.JPG", "01", "neutral", None, {"camera": "045", "gaze": "left"}),
        (
            "Rafd180_12_Moroccan_male_contemptuous_right.png",
            "12",
            "contemptuous",
            None,
            {"camera": "180", "gaze": "right"},
        ),
        ("Rafd000_12_Kid_male_surprised_frontal.jpg", "12", "surprised", None, {"camera": "000", "gaze": "frontal"}),
    ]


@pytest.mark.parametrize("expression", RAFD_EXPRESSIONS)
def test_rafd_every_expression(tmp_path, expression):
    touch(tmp_path, f"Rafd090_07_Caucasian_male_{expression}_frontal.jpg")
    [record] = scan_rafd(tmp_path)
    assert record.expression == expression


# --- JAFFE ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expression"),
    [
        ("AN", "angry"),
        ("DI", "disgusted"),
        ("FE", "fearful"),
        ("HA", "happy"),
        ("NE", "neutral"),
        ("SA", "sad"),
        ("SU", "surprised"),
    ],
)
def test_jaffe_expression_codes(tmp_path, code, expression):
    touch(tmp_path, f"KA.{code}1.39.tiff")
    assert labels(scan_jaffe(tmp_path)) == [(f"KA.{code}1.39.tiff", "KA", expression, None, {})]


def test_jaffe_names_and_junk(tmp_path):
    touch(
        tmp_path,
        "jaffedbase/KA.AN1.39.tiff",
        "jaffedbase/NA.HA2.202.tif",
        "jaffedbase/YM.SU3.60.TIFF",
        *JUNK,
        "jaffedbase/KA.XX1.40.tiff",  # unknown code
        "jaffedbase/KA.AN1.39.jpg",  # not a tiff
        "jaffedbase/KA.AN1.tiff",  # no index
    )
    assert labels(scan_jaffe(tmp_path)) == [
        ("KA.AN1.39.tiff", "KA", "angry", None, {}),
        ("NA.HA2.202.tif", "NA", "happy", None, {}),
        ("YM.SU3.60.TIFF", "YM", "surprised", None, {}),
    ]


# --- BU-3DFE ----------------------------------------------------------------------------


def test_bu3dfe_nested_intensities_and_neutral(tmp_path):
    touch(
        tmp_path,
        "F0001/F0001_NE00WH_F2D.bmp",
        "F0001/F0001_HA01WH_F2D.bmp",
        "F0001/F0001_HA04WH_F2D.BMP",
        "deeper/M0044/M0044_SU02AE_F2D.bmp",
        "F0001/F0001_DI03WH_F2D.bmp",
        *JUNK,
        "F0001/F0001_HA01WH_F3D.wrl",  # 3D mesh
        "F0001/F0001_HA01WH_F3D.bnd",  # 3D landmarks
        "F0001/F0001_NE01WH_F2D.bmp",  # neutral is only level 00
        "F0001/F0001_AN00WH_F2D.bmp",  # graded expressions are 01..04
        "F0001/F0001_AN05WH_F2D.bmp",
    )
    assert labels(scan_bu3dfe(tmp_path)) == [
        ("F0001_DI03WH_F2D.bmp", "F0001", "disgusted", 3, {}),
        ("F0001_HA01WH_F2D.bmp", "F0001", "happy", 1, {}),
        ("F0001_HA04WH_F2D.BMP", "F0001", "happy", 4, {}),
        ("F0001_NE00WH_F2D.bmp", "F0001", "neutral", None, {}),
        ("M0044_SU02AE_F2D.bmp", "M0044", "surprised", 2, {}),
    ]


# --- FERG -------------------------------------------------------------------------------

FERG_FILES = (
    "FERG_DB_256/aia/aia_joy/aia_joy_1.png",
    "FERG_DB_256/aia/aia_anger/aia_anger_12.png",
    "FERG_DB_256/ray/ray_sadness/ray_sadness_3.png",
    "FERG_DB_256/mery/mery_neutral/mery_neutral_7.png",
    "FERG_DB_256/README.txt",
    "FERG_DB_256/aia/aia_joy/Thumbs.db",
    "FERG_DB_256/aia/aia_joy/aia_anger_2.png",  # filed under the wrong emotion
    "FERG_DB_256/aia/aia_joy/aia_joy_2.jpg",  # FERG is png only
    "FERG_DB_256/bob/bob_joy/bob_joy_1.png",  # not a FERG character
)


@pytest.mark.parametrize("nested", [True, False], ids=["parent-folder", "FERG_DB_256"])
def test_ferg_either_root(tmp_path, nested):
    touch(tmp_path, *FERG_FILES)
    root = tmp_path if nested else tmp_path / "FERG_DB_256"
    assert labels(scan_ferg(root)) == [
        ("aia_anger_12.png", "aia", "angry", None, {}),
        ("aia_joy_1.png", "aia", "happy", None, {}),
        ("mery_neutral_7.png", "mery", "neutral", None, {}),
        ("ray_sadness_3.png", "ray", "sad", None, {}),
    ]


@pytest.mark.parametrize(
    ("emotion", "expression"),
    [
        ("anger", "angry"),
        ("disgust", "disgusted"),
        ("fear", "fearful"),
        ("joy", "happy"),
        ("neutral", "neutral"),
        ("sadness", "sad"),
        ("surprise", "surprised"),
    ],
)
def test_ferg_emotion_names(tmp_path, emotion, expression):
    touch(tmp_path, f"FERG_DB_256/bonnie/bonnie_{emotion}/bonnie_{emotion}_5.png")
    [record] = scan_ferg(tmp_path)
    assert (record.identity, record.expression) == ("bonnie", expression)


# --- London -----------------------------------------------------------------------------


def test_london_synthetic_tree(tmp_path):
    touch(
        tmp_path,
        "neutral_front/001_03.jpg",
        "neutral_front/017_03.jpg",
        "smiling_front/001_08.jpg",
        "neutral_front/001_08.jpg",  # smiling file name in the neutral folder
        "smiling_front/017_03.jpg",  # neutral file name in the smiling folder
        "neutral_front/.DS_Store",
        "README.md",
    )
    (tmp_path / "london_info.csv").write_text("face_id,face_age,face_gender,face_eth\n001,24,female,white\n")
    assert labels(scan_london(tmp_path)) == [
        ("001_08.jpg", "001", "happy", None, {}),
        ("001_03.jpg", "001", "neutral", None, {}),
        ("017_03.jpg", "017", "neutral", None, {}),
    ]


def test_london_real_folder():
    if not LONDON.is_dir():
        pytest.skip("../shared/datasets/london not present")
    records = scan_dataset("london", LONDON)
    assert len(records) == 178
    assert len({r.identity for r in records}) == 89
    assert sum(r.expression == "neutral" for r in records) == 89
    assert sum(r.expression == "happy" for r in records) == 89
    assert all(r.attrs == () and r.intensity is None for r in records)
    by_id: dict[str, set[str]] = {}
    for record in records:
        by_id.setdefault(record.identity, set()).add(record.expression)
    assert all(expressions == {"neutral", "happy"} for expressions in by_id.values())


# --- folder (CSV) -----------------------------------------------------------------------


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_folder_labels_csv_in_folder(tmp_path):
    touch(tmp_path, "imgs/a.jpg", "imgs/b.png", "c.jpg")
    write_csv(
        tmp_path / "labels.csv",
        "path,identity,expression,intensity\n"
        "imgs/a.jpg,alice,Happy,2\n"
        "\n"
        "imgs/b.png,alice,neutral,\n"
        "c.jpg, bob ,Smug , 1\n",
    )
    records = scan_folder(tmp_path)
    assert labels(records) == [
        ("a.jpg", "alice", "happy", 2, {}),
        ("b.png", "alice", "neutral", None, {}),
        ("c.jpg", "bob", "smug", 1, {}),
    ]
    assert records[1].path == tmp_path / "imgs" / "b.png"


def test_folder_csv_given_directly_without_intensity_column(tmp_path):
    touch(tmp_path, "data/x.jpg")
    csv_path = write_csv(tmp_path / "data" / "my_labels.csv", "path,identity,expression\nx.jpg,p1,sad\n")
    records = scan_dataset("folder", csv_path)
    assert labels(records) == [("x.jpg", "p1", "sad", None, {})]
    assert records[0].path == tmp_path / "data" / "x.jpg"


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ("a.jpg,alice,happy,1\nb.jpg,alice\n", "line 3"),
        ("a.jpg,alice,happy,1\nmissing.jpg,alice,sad,1\n", "line 3"),
        ("a.jpg,alice,happy,strong\n", "line 2"),
        ("a.jpg,alice,happy,1.5\n", "line 2"),
        ("a.jpg,,happy,1\n", "line 2"),
    ],
    ids=["missing-columns", "missing-file", "word-intensity", "float-intensity", "empty-identity"],
)
def test_folder_bad_rows_name_the_line(tmp_path, rows, needle):
    touch(tmp_path, "a.jpg", "b.jpg")
    write_csv(tmp_path / "labels.csv", "path,identity,expression,intensity\n" + rows)
    with pytest.raises(DatasetError, match=needle) as info:
        scan_folder(tmp_path)
    assert "labels.csv" in str(info.value)
    assert "\n" not in str(info.value)


def test_folder_missing_file_message_names_the_path(tmp_path):
    write_csv(tmp_path / "labels.csv", "path,identity,expression\nnope.jpg,a,happy\n")
    with pytest.raises(DatasetError, match="nope.jpg"):
        scan_folder(tmp_path)


def test_folder_bad_header(tmp_path):
    touch(tmp_path, "a.jpg")
    write_csv(tmp_path / "labels.csv", "file,person,expression\na.jpg,alice,happy\n")
    with pytest.raises(DatasetError, match="path,identity,expression"):
        scan_folder(tmp_path)


def test_folder_without_labels_csv(tmp_path):
    touch(tmp_path, "a.jpg")
    with pytest.raises(DatasetError, match="labels.csv"):
        scan_dataset("folder", tmp_path)


# --- scan_dataset errors ----------------------------------------------------------------


def test_unknown_dataset_lists_known_names(tmp_path):
    with pytest.raises(DatasetError) as info:
        scan_dataset("affectnet", tmp_path)
    message = str(info.value)
    assert "affectnet" in message
    for name in ADAPTERS:
        assert name in message


def test_missing_root(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        scan_dataset("rafd", tmp_path / "nowhere")


def test_root_is_a_file(tmp_path):
    touch(tmp_path, "Rafd090_01_Caucasian_female_angry_frontal.jpg")
    with pytest.raises(DatasetError, match="is a file"):
        scan_dataset("rafd", tmp_path / "Rafd090_01_Caucasian_female_angry_frontal.jpg")


@pytest.mark.parametrize(
    ("name", "example"),
    [
        ("rafd", "Rafd090_01_Caucasian_female_angry_frontal.jpg"),
        ("jaffe", "KA.AN1.39.tiff"),
        ("bu3dfe", "F0001_AN01WH_F2D.bmp"),
        ("ferg", "FERG_DB_256"),
        ("london", "neutral_front"),
    ],
)
def test_no_matching_images_says_what_was_expected(tmp_path, name, example):
    touch(tmp_path, *JUNK, "photo.jpg")
    with pytest.raises(DatasetError) as info:
        scan_dataset(name, tmp_path)
    message = str(info.value)
    assert example in message and str(tmp_path) in message
    assert "\n" not in message


def test_folder_with_header_only_is_empty(tmp_path):
    write_csv(tmp_path / "labels.csv", "path,identity,expression\n")
    with pytest.raises(DatasetError, match="no folder images"):
        scan_dataset("folder", tmp_path)


def test_scan_dataset_accepts_names_case_insensitively_and_str_root(tmp_path):
    touch(tmp_path, "KA.AN1.39.tiff")
    assert labels(scan_dataset("JAFFE", str(tmp_path))) == [("KA.AN1.39.tiff", "KA", "angry", None, {})]
