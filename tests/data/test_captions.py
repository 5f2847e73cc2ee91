"""Caption readers on real Multi30K lines and on broken files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from ccrkit.data import DataError, item_id_of, read_captions, read_cclm_json, read_id_list

TEXT = Path(__file__).parent / "fixtures" / "VisualSearch" / "multi30k" / "TextData"
SHARED = next(
    (
        p / "shared" / "data" / "multi30k"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "data" / "multi30k").is_dir()
    ),
    Path("/nonexistent"),
)


def by_item(path: Path) -> dict[str, str]:
    return {record.item_id: record.text for record in read_captions(path)}


def test_real_quirks_survive_reading():
    fr = by_item(TEXT / "multi30ktrain_google_enc2fr.caption.txt")
    assert (
        fr["1034985636"] == " Un homme vêtu en noir joue une guitare électrique lors d'un concert."
    )
    de = by_item(TEXT / "multi30ktrain_google_enc2de.caption.txt")
    assert any("\u00a0" in text for text in de.values())  # no-break space kept, not a separator
    assert any("\t" in text for text in de.values())
    assert any(text.startswith("#") for text in de.values())
    assert max(len(text) for text in de.values()) > 250
    task2 = read_captions(TEXT / "multi30ktest_google_de2enc_2016.caption.txt")
    assert max(len(record.text) for record in task2) == 373
    cs = by_item(TEXT / "multi30ktrain_google_enc2cs.caption.txt")
    assert any(
        "\u200b" in text or "\u200c" in text or "\u200d" in text or "\ufeff" in text
        for text in cs.values()
    )
    en_test = by_item(TEXT / "multi30ktest_google_de2enc_2016_task1.caption.txt")
    assert any(text.startswith("#") for text in en_test.values())


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared Multi30K copy not present")
def test_texts_equal_the_official_lines():
    official = (
        gzip.decompress((SHARED / "task1" / "raw" / "train.de.gz").read_bytes())
        .decode()
        .split("\n")
    )
    ids = (SHARED / "task1" / "image_splits" / "train.txt").read_text().split()
    line_of = {image.removesuffix(".jpg"): n for n, image in enumerate(ids)}
    for record in read_captions(TEXT / "multi30ktrain_google_enc2de.caption.txt"):
        assert record.text == official[line_of[record.item_id]]


def test_record_fields_and_join_ids():
    record = read_captions(TEXT / "multi30ktrain_enc.caption.txt")[0]
    assert (record.cap_id, record.item_id, record.tag, record.n, record.line) == (
        "1000092795.jpg#enc#0",
        "1000092795",
        "enc",
        "0",
        1,
    )
    assert record.with_tag("enc2de2enc") == "1000092795.jpg#enc2de2enc#0"
    assert [item_id_of(x) for x in ("a.jpg", "v.mp4", "v.avi", "x.jpg.jpg")] == [
        "a",
        "v",
        "v.avi",
        "x.jpg",
    ]


def write(tmp_path: Path, data: bytes, name: str = "c.caption.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_crlf_bom_and_missing_final_newline(tmp_path):
    path = write(tmp_path, "\ufeffa#enc#0 one\r\nb.mp4#enc#1  two".encode())
    records = read_captions(path)
    assert [(r.item_id, r.text) for r in records] == [("a", "one"), ("b", " two")]


@pytest.mark.parametrize(
    ("data", "line", "expected"),
    [
        (b"a#enc#0 ok\nb#enc#0\n", 2, "caption line without text"),
        (b"a#enc#0 ok\nb#enc#0    \n", 2, "caption line without text"),
        (b"a#enc#0 ok\n\nb#enc#1 x\n", 2, "empty line"),
        (b"a#enc ok\n", 1, "malformed caption id 'a#enc'"),
        (b"a#enc#0 ok\na#enc#0 again\n", 2, "duplicate caption id 'a#enc#0' (first on line 1)"),
        (b"a#enc#0 ok\nb#enc#0 caf\xe9\n", 2, "not UTF-8 text: byte 0xe9"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, data, line, expected):
    path = write(tmp_path, data)
    with pytest.raises(DataError) as info:
        read_captions(path)
    assert info.value.path == str(path) and info.value.line == line
    assert expected in str(info.value) and str(info.value).startswith(f"{path}:{line}: ")


def test_collecting_reports_every_bad_line(tmp_path):
    path = write(tmp_path, b"a#enc#0 ok\nb#enc#0\nc#enc#0 caf\xe9\n\nd#enc#0 fine\n")
    problems: list[DataError] = []
    records = read_captions(path, on_error=problems.append)
    assert [r.item_id for r in records] == ["a", "d"]
    assert [p.line for p in problems] == [2, 3, 4]


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_captions(tmp_path / "nope.caption.txt")


def test_cclm_json_train_and_eval_formats(tmp_path):
    train = [
        {"caption": "a dog", "image": "img/1.jpg", "image_id": 1},
        {"caption": "a brown dog", "image": "img/1.jpg", "image_id": 1},
    ]
    test = [{"image": "img/2.jpg", "caption": ["ein Hund", "zwei Hunde"], "image_id": "2"}]
    (tmp_path / "train.json").write_text(json.dumps(train))
    (tmp_path / "test.json").write_text(json.dumps(test, ensure_ascii=False))
    assert [(r.cap_id, r.text) for r in read_cclm_json(tmp_path / "train.json")] == [
        ("1#enc#0", "a dog"),
        ("1#enc#1", "a brown dog"),
    ]
    records = read_captions(tmp_path / "test.json", json_tag="de")
    assert [(r.cap_id, r.item_id, r.text) for r in records] == [
        ("2#de#0", "2", "ein Hund"),
        ("2#de#1", "2", "zwei Hunde"),
    ]


def test_cclm_json_bad_entry(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps([{"image_id": 3, "caption": ["ok", ""]}]))
    with pytest.raises(DataError, match=r"bad.json: entry 0: empty caption for image '3'"):
        read_cclm_json(tmp_path / "bad.json")


def test_id_list_duplicates_and_blank_lines(tmp_path):
    path = write(tmp_path, b"a\nb\n\na\n", "ids.txt")
    problems: list[DataError] = []
    assert read_id_list(path, on_error=problems.append) == ["a", "b"]
    assert [(p.line, p.message.split(";")[0]) for p in problems] == [
        (3, "empty line"),
        (4, "duplicate id 'a' (first on line 1)"),
    ]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_json_caption_file_in_another_unicode_encoding_names_it(tmp_path, encoding):
    path = tmp_path / "captions.json"
    path.write_bytes(json.dumps([{"caption": "a red star", "image_id": "1"}] * 3).encode(encoding))
    with pytest.raises(DataError, match=r"the file is UTF-(16|32) .*, not UTF-8"):
        read_cclm_json(path)
