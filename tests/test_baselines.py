from bpclf.baselines import all_content, c4_rules
from bpclf.pages import Page


def test_c4_rules():
    page = Page(
        "a",
        [
            "This is a proper sentence.",  # kept
            "Two words.",  # too short
            "No terminal punctuation here",  # no end mark
            "We use cookies to improve this site.",  # policy phrase
            "Enable JavaScript to see this page.",
            'He asked: "Is it true?"',  # ends with a quote
            "",
        ],
    )
    assert c4_rules([page])[0].tolist() == [0, 1, 1, 1, 1, 0, 1]


def test_all_content():
    assert all_content([Page("a", ["x", "y"]), Page("b", [])])[0].tolist() == [0, 0]
