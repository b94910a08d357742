import pytest

from bpclf.errors import DataError
from bpclf.pages import Page, page_from_record, split_lines


def test_split_lines_handles_all_newline_styles():
    assert split_lines("a\r\nb\rc\nd") == ["a", "b", "c", "d"]
    assert split_lines("a\n\nb\n") == ["a", "", "b"]
    assert split_lines("") == []
    assert split_lines("\n") == [""]
    # form feeds and Unicode separators stay inside the line
    assert split_lines("a\x0cb\u2028c") == ["a\x0cb\u2028c"]


def test_record_keeps_other_keys_and_text_is_split():
    page = page_from_record({"id": 7, "text": "x\r\ny", "url": "http://e.x", "lang": "en"})
    assert page.id == "7" and page.lines == ["x", "y"] and page.extra == {"url": "http://e.x"}
    assert page.lang == "en" and page.labels is None
    rec = Page("a", ["l"], [1], "fi", "s", {"k": 1}).to_record()
    assert rec == {
        "id": "a",
        "lang": "fi",
        "source": "s",
        "k": 1,
        "lines": ["l"],
        "boilerplate": [1],
    }


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": "a", "lines": ["x", "y"], "boilerplate": [0]}, "has 2 entries"),
        ({"id": "a", "lines": ["x"], "boilerplate": [2]}, "not 0 or 1"),
        ({"id": "a", "lines": ["x"], "boilerplate": [True]}, "not 0 or 1"),
        ({"id": "a", "lines": ["x"], "boilerplate": "0"}, "must be a list"),
        ({"id": "a", "lines": "x"}, "list of strings"),
        ({"id": "a"}, "neither 'lines' nor 'text'"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_bad_records_are_data_errors(record, message):
    with pytest.raises(DataError, match=message) as err:
        page_from_record(record, source="f.jsonl", line=3)
    assert str(err.value).startswith("f.jsonl:3:")
    assert "\n" not in str(err.value)


def test_missing_id_uses_default_and_labels_can_be_required():
    assert page_from_record({"lines": []}, default_id="f:1").id == "f:1"
    with pytest.raises(DataError, match="no 'boilerplate'"):
        page_from_record({"id": "a", "lines": ["x"]}, require_labels=True)
