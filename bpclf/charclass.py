"""Code points of a whole batch of lines and the per-code-point tables the kernels use.

Lines are joined into one string, encoded as UTF-32 and viewed as an array of code
points (:func:`layout`); lookup tables over the Basic Multilingual Plane give each code
point its class bits (letter, upper, digit, space, punctuation, ...), its membership
flags (separator, bullet, closer, terminal, decimal digit, currency) and its lower-case
form. :mod:`bpclf.kernels` reads them (and classes code points beyond the BMP itself).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

LETTER = 1
UPPER = 2
LOWER = 4
DIGIT = 8
SPACE = 16
PUNCT = 32
SYMBOL = 64
MARK = 128

#: Sentence-final punctuation, ASCII and the CJK / other-script forms.
TERMINAL = ".!?…。！？؟।‼⁇⁈⁉;"
#: Characters skipped when looking for a line's last "real" character.
CLOSERS = "\"'”’»«)]}´`›‹“‘"
#: Separators and bullets typical of menus, breadcrumbs and listings.
SEPARATORS = "|»«·•>›‹◦▪►▸→←‣⁃∙★☆/\\–—:"
#: Characters that mark a bulleted line when they start it.
BULLETS = "-*•·◦▪►▸→‣⁃∙>»›+–—|#"


@lru_cache(maxsize=1)
def class_table() -> np.ndarray:
    """Class bits for every code point of the Basic Multilingual Plane."""
    table = np.zeros(0x10000, dtype=np.uint8)
    for cp in range(0x10000):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        bits = 0
        if cat[0] == "L":
            bits |= LETTER
            if cat == "Lu" or cat == "Lt":
                bits |= UPPER
            elif cat == "Ll":
                bits |= LOWER
        elif cat == "Nd" or cat == "No" or cat == "Nl":
            bits |= DIGIT
        elif cat[0] == "Z" or ch in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85":
            bits |= SPACE
        elif cat[0] == "P":
            bits |= PUNCT
        elif cat[0] == "S":
            bits |= SYMBOL
        elif cat[0] == "M":
            bits |= MARK
        table[cp] = bits
    return table


#: Currency symbols counted as tokens.
CURRENCY = "$€£¥₽₹"

# Flag bits of :func:`flag_table` (the kernels' second per-code-point table).
F_SEP, F_BULLET, F_CLOSER, F_TERM, F_DEC, F_CURRENCY = 1, 2, 4, 8, 16, 32
#: Lower-cases to "h" or "w": where "http" or "www" may start inside a word.
F_HW = 64


@lru_cache(maxsize=1)
def flag_table() -> np.ndarray:
    """Membership flags (separator, bullet, closer, terminal, decimal digit, currency,
    lower-cases to h or w) for every code point of the Basic Multilingual Plane."""
    table = np.zeros(0x10000, dtype=np.uint8)
    for chars, bit in (
        (SEPARATORS, F_SEP),
        (BULLETS, F_BULLET),
        (CLOSERS, F_CLOSER),
        (TERMINAL, F_TERM),
        (CURRENCY, F_CURRENCY),
    ):
        for ch in chars:
            table[ord(ch)] |= bit
    for cp in range(0x10000):
        if unicodedata.category(chr(cp)) == "Nd":
            table[cp] |= F_DEC
    low = lower_table()
    table[(low == ord("h")) | (low == ord("w"))] |= F_HW
    return table


@lru_cache(maxsize=1)
def lower_table() -> np.ndarray:
    """Lower-case code point of every BMP code point (itself when lower-casing would
    change the length, as for "İ")."""
    table = np.arange(0x10000, dtype=np.uint32)
    for cp in range(0x10000):
        low = chr(cp).lower()
        if len(low) == 1:
            table[cp] = ord(low)
    return table


def code_points(text: str) -> np.ndarray:
    """The code points of ``text`` as uint32 (lone surrogates kept as their values)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def layout(lines: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Code points of ``lines`` joined by ``\\n``, with each line's start and end offset."""
    lens = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    starts = np.cumsum(lens + 1) - (lens + 1)
    return code_points("\n".join(lines)), starts, starts + lens
