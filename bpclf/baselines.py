"""Reference systems scored beside the model in every evaluation.

* ``c4_rules``: the C4 line filter (Raffel et al. 2020, as in datatrove's
  C4QualityFilter): a line is kept only if it ends in terminal punctuation and has at
  least 3 words, and does not mention javascript, lorem ipsum, a curly bracket or a
  cookie/privacy/terms policy.
* ``all_content``: every line is content; shows what doing nothing scores.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from bpclf.pages import Page

_END_PUNCT = (".", "?", "!", '"', "'", "”", "’", "…", "。", "！", "？")
_C4_BAD = re.compile(
    r"javascript|lorem ipsum|\{|terms of use|privacy policy|cookie policy|uses cookies"
    r"|use of cookies|use cookies",
    re.IGNORECASE,
)


def c4_rules(pages: Sequence[Page]) -> list[np.ndarray]:
    """1 = boilerplate under the C4 line rules, per page."""
    out = []
    for page in pages:
        labels = np.fromiter(
            (
                not (s.endswith(_END_PUNCT) and len(s.split()) >= 3) or bool(_C4_BAD.search(s))
                for s in (line.strip() for line in page.lines)
            ),
            dtype=np.int8,
            count=len(page.lines),
        )
        out.append(labels)
    return out


def all_content(pages: Sequence[Page]) -> list[np.ndarray]:
    """Every line content."""
    return [np.zeros(len(p), dtype=np.int8) for p in pages]


BASELINES = {"c4-rules": c4_rules, "all-content": all_content}
