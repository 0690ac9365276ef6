"""Identity splits and (source, target) training pairs."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from lgan_cli.data.adapters import scan_bu3dfe, scan_london, scan_rafd
from lgan_cli.data.pairs import iter_pairs, make_pairs, spread_evenly
from lgan_cli.data.records import FaceRecord
from lgan_cli.data.splits import parse_id_list, split_by_identity
from lgan_cli.errors import DatasetError

LONDON = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "london"


def rec(identity: str, expression: str, intensity: int | None = None, **attrs: str) -> FaceRecord:
    name = f"{identity}_{expression}_{intensity}_{'_'.join(attrs.values())}.jpg"
    return FaceRecord(Path(name), identity, expression, intensity, tuple(attrs.items()))


def people(n: int) -> list[FaceRecord]:
    """n identities "000".."n-1", each with a neutral and a happy photo."""
    return [rec(f"{i:03d}", e) for i in range(n) for e in ("neutral", "happy")]


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def ids_in(split: dict[str, str], part: str) -> set[str]:
    return {identity for identity, where in split.items() if where == part}


@pytest.fixture
def london_records() -> list[FaceRecord]:
    if not LONDON.is_dir():
        pytest.skip("../shared/datasets/london not present")
    return scan_london(LONDON)


# --- splits -----------------------------------------------------------------------------


def test_split_sizes_and_coverage():
    records = people(20)
    split = split_by_identity(records, test_fraction=0.2, seed=3, val_fraction=0.1)
    assert set(split) == {r.identity for r in records}
    assert Counter(split.values()) == {"train": 14, "val": 2, "test": 4}


def test_split_records_never_share_an_identity_across_parts():
    records = people(30)
    split = split_by_identity(records, test_fraction=0.3, seed=1, val_fraction=0.2)
    parts: dict[str, set[str]] = {"train": set(), "val": set(), "test": set()}
    for record in records:
        parts[split[record.identity]].add(record.identity)
    assert parts["train"] and parts["val"] and parts["test"]
    assert not parts["train"] & parts["val"]
    assert not parts["train"] & parts["test"]
    assert not parts["val"] & parts["test"]


def test_split_deterministic_for_a_seed_and_differs_between_seeds():
    records = people(40)
    first = split_by_identity(records, seed=7)
    assert split_by_identity(records, seed=7) == first
    other_tests = {frozenset(ids_in(split_by_identity(records, seed=s), "test")) for s in range(5)}
    assert len(other_tests) > 1
    assert ids_in(split_by_identity(records, seed=8), "test") != ids_in(first, "test")


def test_split_independent_of_record_order():
    records = people(25)
    shuffled = records[:]
    random.Random(123).shuffle(shuffled)
    expected = split_by_identity(records, test_fraction=0.2, seed=5, val_fraction=0.2)
    assert split_by_identity(shuffled, test_fraction=0.2, seed=5, val_fraction=0.2) == expected
    assert split_by_identity(list(reversed(records)), 0.2, 5, val_fraction=0.2) == expected


def test_split_fixed_test_ids_are_honoured():
    records = people(10)
    split = split_by_identity(records, test_fraction=0.5, seed=0, test_ids=["003", " 007"])
    assert ids_in(split, "test") == {"003", "007"}
    assert ids_in(split, "train") == {r.identity for r in records} - {"003", "007"}

    with_val = split_by_identity(records, seed=0, test_ids=["003", "007"], val_fraction=0.2)
    assert ids_in(with_val, "test") == {"003", "007"}
    assert len(ids_in(with_val, "val")) == 2
    assert not ids_in(with_val, "val") & {"003", "007"}


def test_split_unknown_test_ids_rejected_and_listed():
    with pytest.raises(DatasetError) as info:
        split_by_identity(people(5), test_ids=["001", "999", "abc"])
    message = str(info.value)
    assert "999" in message and "abc" in message
    assert "001" not in message


@pytest.mark.parametrize("test_ids", [[], ["000", "001", "002"]], ids=["empty", "everyone"])
def test_split_fixed_list_must_leave_train_and_name_someone(test_ids):
    with pytest.raises(DatasetError):
        split_by_identity(people(3), test_ids=test_ids)


def test_split_small_datasets_keep_one_train_and_one_test():
    two = split_by_identity(people(2), test_fraction=0.01)
    assert sorted(two.values()) == ["test", "train"]
    nine_tenths = split_by_identity(people(2), test_fraction=0.9)
    assert sorted(nine_tenths.values()) == ["test", "train"]
    assert split_by_identity(people(1), test_fraction=0.5) == {"000": "train"}
    assert set(split_by_identity(people(6), test_fraction=0.0).values()) == {"train"}


@pytest.mark.parametrize(("test", "val"), [(-0.1, 0.0), (1.0, 0.0), (0.6, 0.4), (0.2, 1.5)])
def test_split_rejects_bad_fractions(test, val):
    with pytest.raises(DatasetError, match="fraction"):
        split_by_identity(people(10), test_fraction=test, val_fraction=val)


def test_split_empty_records():
    with pytest.raises(DatasetError, match="empty"):
        split_by_identity([])


def test_split_london(london_records):
    split = split_by_identity(london_records, test_fraction=0.2, seed=0)
    assert len(split) == 89
    assert Counter(split.values()) == {"train": 71, "test": 18}


def test_parse_id_list_from_text():
    assert parse_id_list("001, 002,017,,002") == ["001", "002", "017"]


def test_parse_id_list_from_file(tmp_path):
    path = tmp_path / "test_ids.txt"
    path.write_text("# held-out people\n001\n002, 017\n\n017\n", encoding="utf-8")
    assert parse_id_list(path) == ["001", "002", "017"]
    assert parse_id_list(str(path)) == ["001", "002", "017"]


def test_parse_id_list_missing_path(tmp_path):
    with pytest.raises(DatasetError, match="ids.txt"):
        parse_id_list(tmp_path / "ids.txt")


# --- pairs ------------------------------------------------------------------------------


def test_pairs_london(london_records):
    pairs = make_pairs(london_records)
    assert len(pairs) == 178
    assert all(s.identity == t.identity for s, t in pairs)
    directions = Counter((s.expression, t.expression) for s, t in pairs)
    assert directions == {("neutral", "happy"): 89, ("happy", "neutral"): 89}
    assert len({(s.identity, s.expression) for s, _ in pairs}) == 178


def test_pairs_london_filtered(london_records):
    pairs = make_pairs(london_records, source_expressions=["Neutral"], target_expressions=["happy"])
    assert len(pairs) == 89
    assert {(s.expression, t.expression) for s, t in pairs} == {("neutral", "happy")}


def test_pairs_never_cross_rafd_camera_or_gaze(tmp_path):
    names = [
        f"Rafd{camera}_{subject}_Caucasian_female_{expression}_{gaze}.jpg"
        for subject in ("01", "02")
        for camera in ("045", "090")
        for gaze in ("frontal", "left")
        for expression in ("neutral", "happy", "angry")
    ]
    touch(tmp_path, *names)
    pairs = make_pairs(scan_rafd(tmp_path))
    # 2 subjects x 2 cameras x 2 gazes = 8 shots, each with 3 x 2 ordered pairs
    assert len(pairs) == 48
    for source, target in pairs:
        assert source.identity == target.identity
        assert source.attrs == target.attrs
        assert source.expression != target.expression


def test_pairs_bu3dfe_intensity_levels(tmp_path):
    touch(
        tmp_path,
        "F0001/F0001_NE00WH_F2D.bmp",
        *(f"F0001/F0001_HA0{level}WH_F2D.bmp" for level in range(1, 5)),
        "M0002/M0002_NE00BL_F2D.bmp",
        "M0002/M0002_HA02BL_F2D.bmp",
    )
    pairs = make_pairs(scan_bu3dfe(tmp_path))
    keys = {(s.identity, s.expression, s.intensity, t.expression, t.intensity) for s, t in pairs}
    for level in range(1, 5):
        assert ("F0001", "neutral", None, "happy", level) in keys
    assert ("F0001", "happy", 1, "happy", 3) in keys
    assert ("F0001", "happy", 3, "happy", 1) in keys
    assert all(s is not t for s, t in pairs)
    # F0001: 5 photos, all distinct labels -> 20 ordered pairs; M0002: 2 -> 2.
    assert len(pairs) == 22
    assert not any(s.identity != t.identity for s, t in pairs)


def test_pairs_same_label_repeats_are_not_pairs():
    # JAFFE: two angry photos of KA (AN1, AN2) carry identical labels, so they teach no change.
    records = [
        FaceRecord(Path("KA.AN1.39.tiff"), "KA", "angry", None),
        FaceRecord(Path("KA.AN2.40.tiff"), "KA", "angry", None),
        FaceRecord(Path("KA.HA1.41.tiff"), "KA", "happy", None),
    ]
    pairs = make_pairs(records)
    assert len(pairs) == 4
    assert all(s.expression != t.expression for s, t in pairs)


def test_pairs_order_is_deterministic_and_independent_of_input_order():
    records = [
        rec(identity, expression, None, camera=camera)
        for identity in ("a", "b", "c")
        for camera in ("045", "090")
        for expression in ("neutral", "happy", "sad")
    ]
    expected = make_pairs(records)
    shuffled = records[:]
    random.Random(0).shuffle(shuffled)
    assert make_pairs(shuffled) == expected
    assert list(iter_pairs(reversed(records))) == expected
    assert len(expected) == 3 * 2 * 6


def test_pairs_unknown_filter_expression_rejected():
    with pytest.raises(DatasetError, match="happiness"):
        make_pairs(people(2), target_expressions=["happiness"])


def _levelled_person(identity: str) -> list[FaceRecord]:
    """One person as lgan synth renders them: neutral once, 3 expressions at 4 levels."""
    return [rec(identity, "neutral")] + [
        rec(identity, expression, level) for expression in ("happy", "sad", "surprised") for level in range(1, 5)
    ]


def test_pairs_neutral_mode_keeps_exactly_the_pairs_through_neutral():
    records = _levelled_person("a") + _levelled_person("b")
    everything = make_pairs(records)
    through_neutral = make_pairs(records, mode="neutral")
    assert len(everything) == 2 * 13 * 12
    # per person: neutral -> 12 (expression, level) targets and the 12 ways back
    assert len(through_neutral) == 2 * 24
    assert all("neutral" in (s.expression, t.expression) for s, t in through_neutral)
    assert set(through_neutral) == {(s, t) for s, t in everything if "neutral" in (s.expression, t.expression)}
    targets = {
        (t.expression, t.intensity) for s, t in through_neutral if s.identity == "a" and s.expression == "neutral"
    }
    assert targets == {(e, level) for e in ("happy", "sad", "surprised") for level in range(1, 5)}


def test_pairs_unknown_mode_rejected():
    with pytest.raises(DatasetError, match="pairs mode"):
        make_pairs(people(2), mode="everything")


@pytest.mark.parametrize("limit", [1, 3, 7, 10])
def test_spread_evenly_covers_the_whole_list(limit):
    items = list(range(10))
    chosen = spread_evenly(items, limit)
    assert len(chosen) == limit and len(set(chosen)) == limit
    assert chosen[0] == 0 and chosen == sorted(chosen)
    if limit > 1:
        assert chosen[-1] >= 10 - -(-10 // limit)  # reaches the end of the list, not just its start
    assert spread_evenly(items, None) == items and spread_evenly(items, 50) == items
