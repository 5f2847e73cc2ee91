"""BigFile and video2frames: validated on open, read through memmap, never executed."""

from __future__ import annotations

import numpy as np
import pytest

from ccrkit.data import BigFile, DataError, read_video2frames, write_bigfile


@pytest.fixture
def bigfile(tmp_path):
    features = np.arange(12, dtype=np.float32).reshape(4, 3)
    write_bigfile(tmp_path / "bf", ["v1_0", "v1_1", "v2_0", "v2_1"], features)
    return tmp_path / "bf", features


def test_round_trip_reads_rows_by_name(bigfile):
    folder, features = bigfile
    store = BigFile(folder)
    assert store.shape == (4, 3) and store.ids[2] == "v2_0" and "v1_1" in store
    np.testing.assert_array_equal(store.read(["v2_1", "v1_0"]), features[[3, 0]])
    assert isinstance(store._memmap(), np.memmap)
    with pytest.raises(DataError, match=r"id 'v9_0' is not in id\.txt"):
        store.read(["v9_0"])


def test_shape_disagreeing_with_file_size(bigfile):
    folder, _ = bigfile
    (folder / "shape.txt").write_text("5 3\n")
    with pytest.raises(DataError) as info:
        BigFile(folder)
    assert info.value.path == str(folder / "feature.bin")
    assert "size 48 bytes disagrees with shape.txt 5 x 3: expected 60 bytes" in str(info.value)


def test_truncated_feature_file(bigfile):
    folder, _ = bigfile
    (folder / "feature.bin").write_bytes((folder / "feature.bin").read_bytes()[:-5])
    with pytest.raises(DataError, match=r"holds 3\.58333 rows of 3"):
        BigFile(folder)


def test_id_count_mismatch(bigfile):
    folder, _ = bigfile
    (folder / "id.txt").write_text("v1_0 v1_1 v2_0\n")
    with pytest.raises(DataError, match=r"id.txt: holds 3 ids but shape.txt says 4 rows"):
        BigFile(folder)


def test_bad_shape_line(bigfile):
    folder, _ = bigfile
    (folder / "shape.txt").write_text("4,3\n")
    with pytest.raises(DataError, match=r"shape.txt:1: expected one line 'N D'"):
        BigFile(folder)


def test_video2frames_json_and_python_literal(tmp_path):
    (tmp_path / "a.txt").write_text('{"v1": ["v1_0", "v1_1"], "v2": []}')
    (tmp_path / "b.txt").write_text("{'v1': ['v1_0',\n 'v1_1'], 'v2': ('v2_0',)}\n")
    assert read_video2frames(tmp_path / "a.txt") == {"v1": ["v1_0", "v1_1"], "v2": []}
    assert read_video2frames(tmp_path / "b.txt") == {"v1": ["v1_0", "v1_1"], "v2": ["v2_0"]}


@pytest.mark.parametrize(
    "code",
    [
        "__import__('pathlib').Path({marker!r}).write_text('ran')",
        "{{'v1': [__import__('pathlib').Path({marker!r}).write_text('ran')]}}",
        "{{'v1': ['a'], **__import__('pathlib').Path({marker!r}).write_text('ran')}}",
        "{{'v1': [x for x in [__import__('pathlib').Path({marker!r}).write_text('ran')]]}}",
        "(lambda: __import__('pathlib').Path({marker!r}).write_text('ran'))()",
    ],
)
def test_video2frames_holding_code_is_refused_and_never_run(tmp_path, code):
    marker = tmp_path / "marker"
    path = tmp_path / "video2frames.txt"
    path.write_text(code.format(marker=str(marker)))
    with pytest.raises(DataError) as info:
        read_video2frames(path)
    assert info.value.path == str(path) and "code is never run" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("['v1_0']", "found List"),
        ('{"v1": "v1_0"}', "video 'v1'"),
        ("{'v1': [1, 2]}", "found Constant"),
        ("{'v1': ['a'], 'v1': ['b']}", "video 'v1' appears twice"),
        ("{'v1': ['a']", "neither JSON nor a Python literal"),
    ],
)
def test_video2frames_wrong_shapes(tmp_path, text, expected):
    (tmp_path / "v.txt").write_text(text)
    with pytest.raises(DataError, match=expected):
        read_video2frames(tmp_path / "v.txt")


def test_video2frames_size_limit(tmp_path):
    (tmp_path / "v.txt").write_text('{"v1": ["a"]}')
    with pytest.raises(DataError, match="larger than the 5-byte limit"):
        read_video2frames(tmp_path / "v.txt", max_bytes=5)
