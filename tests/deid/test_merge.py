import pytest

from spacy_clintiny.deid.merge import merge_mentions
from spacy_clintiny.deid.types import PhiMention, source_rank


def m(start, end, label="NAME", source="model", score=0.5, subtype=""):
    return PhiMention(start, end, label, source, score, subtype)


def test_partial_overlap_merges_into_the_union_labelled_by_the_longest():
    merged = merge_mentions([m(0, 5, "NAME", "model"), m(3, 12, "LOCATION", "rule:address", 1.0, "STREET")])
    assert merged == [m(0, 12, "LOCATION", "rule:address", 1.0, "STREET")]


def test_same_length_prefers_the_more_precise_source_then_the_score():
    assert merge_mentions([m(0, 4, "NAME", "model", 0.9), m(0, 4, "DATE", "rule:date", 1.0)])[0].label == "DATE"
    assert merge_mentions([m(0, 4, "NAME", "rule:title"), m(0, 4, "ID", "deny_list")])[0].source == "deny_list"
    assert merge_mentions([m(0, 4, "NAME", "model", 0.4), m(0, 4, "AGE", "model", 0.8)])[0].label == "AGE"


def test_touching_spans_stay_apart_and_chains_merge():
    assert merge_mentions([m(5, 9), m(0, 5)]) == [m(0, 5), m(5, 9)]
    chain = merge_mentions([m(0, 4), m(3, 8), m(7, 20, "DATE")])
    assert [(x.start, x.end, x.label) for x in chain] == [(0, 20, "DATE")]


def test_nested_span_is_absorbed():
    assert merge_mentions([m(0, 10, "LOCATION"), m(2, 4, "NAME", "deny_list")]) == [m(0, 10, "LOCATION")]


def test_empty_and_source_rank():
    assert merge_mentions([]) == []
    assert source_rank("deny_list") < source_rank("rule:phone") < source_rank("model") < source_rank("other")


def test_mentions_reject_bad_offsets_and_labels():
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        m(4, 4)
    with pytest.raises(ValueError, match="'PERSON'"):
        m(0, 4, "PERSON")
