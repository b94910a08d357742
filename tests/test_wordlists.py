import numpy as np

from bpclf import charclass as cc
from bpclf.wordlists import compile_word_list, normalise_phrase


def test_trie_pattern_prefers_longest_and_respects_word_edges():
    pat = compile_word_list(["sign", "sign in", "sign up", "in"])
    assert [m.group(0) for m in pat.finditer("Sign in, signing, sign\tup, in")] == [
        "Sign in",
        "sign\tup",
        "in",
    ]
    assert compile_word_list([]) is None


def test_phrases_do_not_cross_lines():
    pat = compile_word_list(["read more"])
    assert pat.findall("read\nmore") == []


def test_normalise_phrase():
    assert normalise_phrase("  Don’t   Miss ") == "don't miss"


def test_character_classes():
    cp = cc.code_points("Aé1 ,€\u0301中😀")
    bits = cc.classify(cp)
    assert bits[0] & cc.UPPER and bits[0] & cc.LETTER
    assert bits[1] & cc.LOWER
    assert bits[2] & cc.DIGIT
    assert bits[3] & cc.SPACE
    assert bits[4] & cc.PUNCT
    assert bits[5] & cc.SYMBOL
    assert bits[6] & cc.MARK
    assert bits[7] & cc.LETTER
    assert bits[8] & cc.SYMBOL  # emoji beyond the BMP
    assert cc.member_mask(cp, "1€").tolist() == [
        False,
        False,
        True,
        False,
        False,
        True,
        False,
        False,
        False,
    ]
    assert np.array_equal(cc.code_points("a\ud800"), [97, 0xD800])
