"""clintiny_sentences runs PyRuSH's rule walk only where a rule can match
(components/rush_prefilter.py): its sentences must be exactly PyRuSH's, on hand-made edge
cases, on seeded random strings and on real notes, at a fraction of the cost."""

import itertools
import random
import re
import string
import sys
import time

import pytest
import spacy
from PyFastNER import ReplicationFunctionsLambda
from PyRuSH.RuSH import RuSH
from PyRuSH.StaticSentencizerFun import cpredict_split_gaps
from spacy.tokens import Doc

from helpers import require_shared_data
from spacy_clintiny.components import rush_prefilter
from spacy_clintiny.components.sentences import RushSentences

FIXTURES = [
    "",
    " ",
    "\n\n \t",
    "Pt seen.",
    "HISTORY: Pt is a 67 yo man seen 03/14/2021 at Mercy Hospital by Dr. Alan Reyes. He denies chest pain.\n"
    "Mother had breast cancer. Started aspirin 81 mg daily for CAD; developed a rash after amoxicillin.",
    "BP 120/80, HR 72.  Plan:\n1. CBC\n2. CXR\n\nDr. Smith M.D. signed 3/4/21 at 10 a.m. Follow up in 2 wks.",
    "2+ edema bilat. LE. Na+ 140 K+ 4.1 Cl- 101 ; pt A&Ox3 ; f/u w/ PCP ++ +",
    "C:\\notes\\file.txt ... \\s\\n literal backslash escapes \\(x\\) \\C\\c\\d. Next one.",
    "Température 38,5°C. Pt réfère Ω² ³ douleur. ¿Qué? «ok» — done. ÉTAT stable.",
    "!!!!!! ?????? ...... ;;;;;; ------\n\n\n       \t\t\t .",
    "\xa0\xa0Non-breaking\xa0spaces. Next\u2028line separators\u2029too.\x0bvertical\x0cfeed",
    "IMPRESSION:\n\n1.  Pneumonia.\n2.  CHF, stable.\n\nPLAN:  (a) abx (b) diuresis [see above].",
    "a" * 120 + ". " + "A." * 80 + " " + "1" * 90 + ". Next sentence here. " + " " * 120 + "End",
]


def plain_rush(component: RushSentences) -> RuSH:
    """PyRuSH's own engine on the component's rules: the reference."""
    return RuSH(rules=component.rules_text.rstrip("\n") + "\n", max_repeat=component.max_repeat, auto_fix_gaps=True)


def spans(rush: RuSH, text: str):
    return [(s.begin, s.end) for s in rush.segToSentenceSpans(text)]


@pytest.fixture(scope="module")
def component():
    return RushSentences(spacy.blank("en"))


@pytest.fixture(scope="module")
def reference(component):
    return plain_rush(component)


@pytest.mark.parametrize("text", FIXTURES)
def test_sentences_are_pyrush_sentences(component, reference, text):
    assert spans(component.rush, text) == spans(reference, text)


def test_component_sentence_starts_match_pyrush(component, reference):
    nlp = spacy.blank("en")
    for text in FIXTURES:
        doc = component(nlp.make_doc(text))
        if len(doc):
            expected = [bool(x) for x in cpredict_split_gaps([doc], reference.segToSentenceSpans, None)[0]]
            assert [t.is_sent_start for t in doc] == expected


def test_random_strings_match_pyrush(component, reference):
    """Seeded random strings over the characters the rules and their wildcards care about."""
    rng = random.Random(0)
    alphabet = "aZ1 .\n\t\r,;:()+\\-?!\"'\xa0é²ΩÉ[]*/%&#$" + "".join(rng.sample(string.ascii_letters, 8))
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 200))) for _ in range(150)]
    texts += ["".join(rng.choice(". \nAa1") for _ in range(rng.randint(1, 120))) for _ in range(100)]
    for text in texts:
        assert spans(component.rush, text) == spans(reference, text), repr(text)


def test_a_smaller_repeat_limit_is_followed(component):
    """PyFastNER keeps its repeat limit in a module global: the index must follow it."""
    text = "Pt seen." + " " * 12 + "He left.\n\n\n\n\n\nPlan:" + "." * 9 + " Done"
    try:
        small = RushSentences(spacy.blank("en"), max_repeat=3)
        fast_spans = spans(small.rush, text)
        assert ReplicationFunctionsLambda.gmax_repeat == 3
        assert fast_spans == spans(plain_rush(small), text)
        assert 3 in small.rush.fastner._indexes
    finally:
        plain_rush(component)  # restores PyFastNER's global limit to 50
    assert ReplicationFunctionsLambda.gmax_repeat == 50


def test_wildcard_classes_contain_what_pyfastner_accepts():
    """Each wildcard's class holds every character PyFastNER's step accepts (BMP checked);
    the classes marked exact hold nothing else (they may repeat possessively)."""
    accepts = {  # PyFastNER 1.0.10, WildCardFunctions / ReplicationFunctionsLambda
        "s": lambda c: c == " " or c == "\t" or ord(c) == 160,
        "n": lambda c: c == "\n" or c == "\r",
        "d": str.isdigit,
        "C": str.isupper,
        "c": str.islower,
        "p": lambda c: c in string.punctuation,
        "a": lambda c: not c.isspace(),
        "u": lambda c: c > "~" and ord(c) != 160,
        "w": lambda c: c > "~" or c.isspace(),
    }
    chars = "".join(chr(i) for i in range(0x10000))
    for letter, (cls, exact) in rush_prefilter._WILDCARDS.items():
        matched = set(re.findall(cls, chars))
        accepted = {c for c in chars if accepts[letter](c)}
        assert accepted <= matched, letter
        if exact:
            assert matched == accepted, letter


def test_a_position_the_index_rejects_reaches_no_rule_end(component):
    """The index is a filter: on a note, the walk from every rejected position records
    nothing (checked position by position with PyFastNER's own walk)."""
    text = FIXTURES[4] + "\n" + FIXTURES[5] + "\n" + FIXTURES[6]
    fastner = component.rush.fastner
    kept = set(fastner.index.start_positions(text))
    assert 0 < len(kept) < len(text) / 3
    plain = fastner._fastner
    for i in set(range(len(text))) - kept:
        matches = {}
        plain.overlap_checkers.clear()
        plain.processRules(text, plain.rule_map, i, 0, i, matches, " ", False, " ")
        assert not any(matches.values()), i


def test_real_notes_match_pyrush_and_cost_less(component, reference):
    """PhysioNet nursing notes (training patients) and MTSamples reports."""
    from spacy_clintiny.converters.mtsamples import iter_mtsamples
    from spacy_clintiny.converters.physionet import iter_physionet
    from spacy_clintiny.converters.splits import dev_groups

    folder = require_shared_data("physionet-deid")
    notes = list(iter_physionet(folder / "id.text", folder / "id-phi.phrase"))
    held_out = dev_groups({n.group_id for n in notes}, dev_fraction=0.334, seed=0)
    texts = [n.text for n in notes if n.group_id not in held_out][:40]
    texts += [d.text for d in itertools.islice(iter_mtsamples(require_shared_data("mtsamples")), 8)]
    start = time.perf_counter()
    expected = [spans(reference, t) for t in texts]
    reference_s = time.perf_counter() - start
    start = time.perf_counter()
    got = [spans(component.rush, t) for t in texts]
    fast_s = time.perf_counter() - start
    assert got == expected
    assert sum(map(len, expected)) > 100
    print(f"{len(texts)} notes: PyRuSH {reference_s:.2f} s, prefiltered {fast_s:.2f} s", file=sys.stderr)
    assert fast_s < reference_s / 2


def test_long_punctuation_run_is_fast(component):
    words = ["Pt", "stable", ".", "!" * 24000, "Denies", "pain", "."]
    doc = Doc(spacy.blank("en").vocab, words=words, spaces=[True, False, True, True, True, False, False])
    start = time.perf_counter()
    component(doc)
    assert time.perf_counter() - start < 2.0
    assert doc[0].is_sent_start
