import numpy as np

from bpclf import charclass as cc
from bpclf import kernels


def test_character_classes():
    cp = cc.code_points("Aé1 ,€\u0301中😀")
    table = cc.class_table()
    bits = [kernels._cls(table, c) for c in cp]  # what the kernels see, beyond the BMP too
    assert bits[0] & cc.UPPER and bits[0] & cc.LETTER
    assert bits[1] & cc.LOWER
    assert bits[2] & cc.DIGIT
    assert bits[3] & cc.SPACE
    assert bits[4] & cc.PUNCT
    assert bits[5] & cc.SYMBOL
    assert bits[6] & cc.MARK
    assert bits[7] & cc.LETTER
    assert bits[8] & cc.SYMBOL  # emoji beyond the BMP
    assert kernels._cls(table, 0x20000) == cc.LETTER  # CJK extension B
    assert np.array_equal(cc.code_points("a\ud800"), [97, 0xD800])


def test_flag_and_lower_tables():
    flags, low = cc.flag_table(), cc.lower_table()
    assert flags[ord("|")] & cc.F_SEP and flags[ord("•")] & cc.F_BULLET
    assert flags[ord("”")] & cc.F_CLOSER and flags[ord("?")] & cc.F_TERM
    assert flags[ord("7")] & cc.F_DEC and flags[ord("٣")] & cc.F_DEC  # Arabic-Indic digit
    assert not flags[ord("²")] & cc.F_DEC  # a digit, but not a decimal one (regex \d)
    assert flags[ord("€")] & cc.F_CURRENCY and not flags[ord("a")]
    assert low[ord("Ä")] == ord("ä") and low[ord("Σ")] == ord("σ") and low[ord("x")] == ord("x")
    assert low[ord("İ")] == ord("İ")  # lower() would give two characters: kept as is
    # Where "http"/"www" may start inside a word: exactly what lower-cases to h or w.
    hw = {chr(c) for c in np.flatnonzero(flags & cc.F_HW)}
    assert hw == {c for c in map(chr, range(0x10000)) if low[ord(c)] in (ord("h"), ord("w"))}
    assert {"h", "H", "w", "W"} <= hw and "ｈ" not in hw and "x" not in hw


def test_layout_offsets_survive_embedded_breaks():
    cp, starts, ends = cc.layout(["ab", "", "c\nd"])
    assert starts.tolist() == [0, 3, 4] and ends.tolist() == [2, 3, 7]
    assert "".join(map(chr, cp[starts[2] : ends[2]])) == "c\nd"
