"""Dictionary rules of the recall profile (``spacy_clintiny.deid.dictionary``) and the census
name, town and year rules: each family on hand-written sentences (invented, never PhysioNet
text) with the exact expected spans, and the clinical look-alikes that must stay untouched."""

import re

import pytest
import spacy

from spacy_clintiny.deid.dictionary import languages, non_places, us_cities
from spacy_clintiny.deid.patterns import PhiRuleDetector
from spacy_clintiny.deid.wordlists import _faker_names, ambiguous_names, census_names


@pytest.fixture(scope="module")
def nlp():
    return spacy.blank("en")


@pytest.fixture(scope="module")
def recall(nlp):
    return PhiRuleDetector(nlp.vocab, profile="recall")


@pytest.fixture(scope="module")
def precision(nlp):
    return PhiRuleDetector(nlp.vocab, profile="precision")


def found(detector, nlp, text):
    return [(text[m.start : m.end], m.label, m.source) for m in detector(nlp(text))]


# ---------------------------------------------------------------------- the shipped lists


def test_census_lists_are_lower_case_names_most_frequent_first():
    first, last = census_names()
    faker_first, faker_last = _faker_names()
    assert len(first) > 5000 and len(last) > 80000
    assert all(re.fullmatch(r"[a-z][a-z']*", n) for n in list(first)[:500] + list(last)[:500])
    # names Faker's lists do not have: the reason the census lists are shipped
    assert {"kowalczyk", "szymanski", "gustafson"} <= last - faker_last
    assert {"hall", "white", "straw"} <= ambiguous_names()
    assert "kowalczyk" not in ambiguous_names()


def test_places_and_exclusions():
    places = {p.lower() for p in us_cities()}
    assert {"kalamazoo", "poughkeepsie", "wappingers falls", "baltimore"} <= places
    assert {"california", "russian"} <= non_places() | languages()


# ---------------------------------------------------------------------- names without a cue


def test_census_surnames_are_found_without_a_cue(recall, precision, nlp):
    text = "Seen by Kowalczyk and Szymanski this am."
    assert found(recall, nlp, text) == [
        ("Kowalczyk", "NAME", "rule:dict_name"),
        ("Szymanski", "NAME", "rule:dict_name"),
    ]
    assert found(precision, nlp, text) == []


def test_unknown_word_before_a_surname_and_initial_before_a_lower_case_name(recall, nlp):
    assert found(recall, nlp, "VISITED BY ZORBETTA KOWALCZYK TODAY.") == [
        ("ZORBETTA KOWALCZYK", "NAME", "rule:dict_name")
    ]
    # in a note written with capitals a lower-case word is a name only right after an initial
    assert found(recall, nlp, "Seen by d. kowalczyk and the team. Plan as above.") == [
        ("d. kowalczyk", "NAME", "rule:dict_name")
    ]
    assert found(recall, nlp, "Seen by kowalczyk and the team. Plan as above.") == []


@pytest.mark.parametrize(
    "text",
    [
        # census names that are English words: only after a cue
        "Ambulated in hall. White count up. Drank via straw. Brown drainage.",
        # clipped lab and drug words that are census surnames
        "gluc 162, crea 1.6, chol high, spiro used. Hema stable.",
        # letters glued to digits are lab names and units
        "PaCO2 40, SaO2 95%, VO2 measured, propofol 75MC/KG.",
        # languages and nationalities, states
        "Russian speaking, Spanish interpreter called. Lives in California.",
        # towns that are English words
        "Union meeting. Hope to wean. Center line flushed.",
        # eponyms and devices before their head word
        "Anderson tubes in place. Shiley trach changed. Ficke method used. Hoyer lift to chair.",
        # the clinical look-alikes
        "LA enlargement. Hx Parkinson's. Foley draining. 3/4 strength. BP 120/80. T 98.6.",
    ],
)
def test_look_alikes_are_left_alone(recall, nlp, text):
    assert found(recall, nlp, text) == []


def test_census_names_after_cues_in_both_profiles(recall, precision, nlp):
    text = "NP KOWALCZYK AWARE. DR. HALL NOTIFIED. RN STRAW AT BEDSIDE."
    expected = [
        ("KOWALCZYK", "NAME", "rule:staff_name"),
        ("HALL", "NAME", "rule:dr_name"),
        ("STRAW", "NAME", "rule:staff_name"),
    ]
    assert found(precision, nlp, text) == expected
    assert found(recall, nlp, text) == expected


# ---------------------------------------------------------------------- places


def test_towns_one_and_several_words(recall, precision, nlp):
    text = "Moved here from Kalamazoo; sister lives in Poughkeepsie, brother in Wappingers Falls."
    assert found(recall, nlp, text) == [
        ("Kalamazoo", "LOCATION", "rule:dict_city"),
        ("Poughkeepsie", "LOCATION", "rule:residence"),
        ("Wappingers Falls", "LOCATION", "rule:dict_city"),
    ]
    assert found(precision, nlp, text) == [("Poughkeepsie", "LOCATION", "rule:residence")]


def test_a_word_that_is_a_surname_and_a_town_is_a_town(recall, nlp):
    assert found(recall, nlp, "Daughter visited from Baltimore overnight.") == [
        ("Baltimore", "LOCATION", "rule:dict_city")
    ]


# ---------------------------------------------------------------------- dates


def test_years_1960_to_1999_alone_but_not_quantities_or_times(recall, nlp):
    text = "s/p CABG 1987. Urine 1975 cc. I/O 1980. Temp spike at 2000. Total 1990. Out 1965."
    assert found(recall, nlp, text) == [("1987", "DATE", "rule:year_alone")]


def test_full_numeric_date_glued_to_a_word(recall, nlp):
    text = "labs on10/14/82 stable; AC 700x12/10/40 %, wean2/5 later."
    assert found(recall, nlp, text) == [("10/14/82", "DATE", "rule:numeric_date_glued")]


@pytest.mark.parametrize(
    "text",
    [
        "Holter monitor in place.",
        "Jackson-Pratt drain to bulb suction.",
        "JACKSON-PRATT DRAIN PULLED.",
        "Salem sump to LIWS.",
        "Boston brace on when OOB.",
        "Hx of Guillain-Barre.",
        "Rule out Rocky Mountain spotted fever.",
        "Cheyne-Stokes respirations overnight.",
        "Glasgow coma scale 15.",
        "Hx Barrett's esophagus, Cushing's triad.",
        "Braden 12/23, Posey vest, Geri chair, Mickey button.",
        "Shiley 8 cuffed trach, Zoll pads, Dakins wet to dry.",
        "Pt traveled to Florida last month; daughter lives in Texas.",
    ],
)
def test_eponyms_are_not_names_or_places(text):
    nlp = spacy.blank("en")
    assert PhiRuleDetector(nlp.vocab, profile="recall")(nlp(text)) == []


def test_places_and_hyphenated_names_still_found():
    nlp = spacy.blank("en")
    detector = PhiRuleDetector(nlp.vocab, profile="recall")
    text = "Pt lives in Boston. Mrs. Smith-Quimby visited."
    found = [text[m.start : m.end] for m in detector(nlp(text))]
    assert "Boston" in found and "Smith" in found
