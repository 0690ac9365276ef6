"""lgan_cli.geometry.cache: the face model's cuts kept on disk, rebuilt when stale or damaged."""

from __future__ import annotations

import os

import numpy as np
import pytest

from lgan_cli.geometry.cache import cache_path, cached_cut, check_arrays

SHAPES = {"mean": ("V", 3), "modes": ("K", "V", 3)}


@pytest.fixture()
def model_file(tmp_path, monkeypatch):
    monkeypatch.setenv("LGAN_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "model.npz"
    path.write_bytes(b"stand-in for the face model file")
    return path


def counting_build(calls: list[int], vertices: int = 5):
    def build():
        calls.append(1)
        return {"mean": np.ones((vertices, 3), np.float32), "modes": np.zeros((2, vertices, 3), np.float32)}

    return build


def test_a_cut_is_built_once_then_read_back(model_file):
    calls: list[int] = []
    check = lambda arrays: check_arrays(arrays, SHAPES)  # noqa: E731
    first = cached_cut("demo", model_file, counting_build(calls), check)
    second = cached_cut("demo", model_file, counting_build(calls), check)
    assert len(calls) == 1 and cache_path("demo", model_file).is_file()
    assert all(np.array_equal(first[name], second[name]) for name in SHAPES)


def test_a_changed_model_file_gets_a_new_cut(model_file):
    calls: list[int] = []
    check = lambda arrays: check_arrays(arrays, SHAPES)  # noqa: E731
    cached_cut("demo", model_file, counting_build(calls), check)
    before = cache_path("demo", model_file)
    model_file.write_bytes(b"another version of the model, longer")
    os.utime(model_file, ns=(1, 1))
    assert cache_path("demo", model_file) != before
    cached_cut("demo", model_file, counting_build(calls), check)
    assert len(calls) == 2


def test_a_damaged_or_foreign_cache_file_is_rebuilt_not_trusted(model_file):
    calls: list[int] = []
    check = lambda arrays: check_arrays(arrays, SHAPES)  # noqa: E731
    path = cache_path("demo", model_file)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an npz")
    cached_cut("demo", model_file, counting_build(calls), check)
    assert len(calls) == 1
    np.savez(path, mean=np.ones((5, 3)), modes=np.zeros((2, 4, 3)))  # inconsistent vertex counts
    arrays = cached_cut("demo", model_file, counting_build(calls), check)
    assert len(calls) == 2 and arrays["modes"].shape == (2, 5, 3)
    np.savez(path, mean=np.full((5, 3), np.nan), modes=np.zeros((2, 5, 3)))
    arrays = cached_cut("demo", model_file, counting_build(calls), check)
    assert len(calls) == 3 and np.isfinite(arrays["mean"]).all()


def test_check_arrays_names_what_is_wrong():
    good = {"mean": np.ones((5, 3)), "modes": np.zeros((2, 5, 3))}
    check_arrays(good, SHAPES)
    with pytest.raises(ValueError, match="expected arrays"):
        check_arrays({"mean": good["mean"]}, SHAPES)
    with pytest.raises(ValueError, match="modes: expected shape"):
        check_arrays({**good, "modes": np.zeros((2, 4, 3))}, SHAPES)
    with pytest.raises(ValueError, match="dimensions"):
        check_arrays({**good, "mean": np.ones(5)}, SHAPES)
