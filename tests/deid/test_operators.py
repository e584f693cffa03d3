"""Operators replace exactly the PHI spans, report exact output offsets, leave the rest of the
text byte-identical, and never keep an original in surrogate mode."""

import gc
import re
import time

import pytest

from spacy_clintiny.deid.operators import apply_operator
from spacy_clintiny.deid.surrogate import SurrogateGenerator
from spacy_clintiny.deid.types import PhiMention

TEXT = "Pt John Smith seen 3/14/2021 at Mercy Hospital.\nAge 92, MRN 12345678, call 410-555-9876."
SPANS = [
    ("John Smith", "NAME", "PATIENT"),
    ("3/14/2021", "DATE", ""),
    ("Mercy Hospital", "LOCATION", "HOSPITAL"),
    ("92", "AGE", ""),
    ("12345678", "ID", "MEDICALRECORD"),
    ("410-555-9876", "CONTACT", "PHONE"),
]


def find_mentions(text, spans, source="rule"):
    out = []
    for phrase, label, subtype in spans:
        for match in re.finditer(re.escape(phrase), text):
            out.append(PhiMention(match.start(), match.end(), label, source, 1.0, subtype))
    return out


MENTIONS = find_mentions(TEXT, SPANS)


def check_offsets(text, output, replacements):
    """Every replacement sits at its output offsets, and the text between them is unchanged."""
    prev_in = prev_out = 0
    for r in replacements:
        assert output[r.out_start : r.out_end] == r.new_text
        assert output[prev_out : r.out_start] == text[prev_in : r.start]
        prev_in, prev_out = r.end, r.out_end
    assert output[prev_out:] == text[prev_in:]


def test_redact_known_answer():
    output, reps = apply_operator(TEXT, MENTIONS, mode="redact")
    assert output == "Pt [NAME] seen [DATE] at [LOCATION].\nAge [AGE], MRN [ID], call [CONTACT]."
    assert [r.operator for r in reps] == ["redact"] * 6
    assert (reps[0].start, reps[0].end, reps[0].out_start, reps[0].out_end) == (3, 13, 3, 9)
    check_offsets(TEXT, output, reps)


def test_redact_custom_tag_format():
    output, _ = apply_operator(TEXT, MENTIONS[:1], mode="redact", tag_format="<{label}:{subtype}>")
    assert output.startswith("Pt <NAME:PATIENT> seen")


def test_mask_keeps_length_offsets_and_whitespace():
    text = "Name: John\nSmith  Jr.\tok"
    mention = PhiMention(6, 21, "NAME", "model")
    output, reps = apply_operator(text, [mention], mode="mask", mask_char="X")
    assert output == "Name: XXXX\nXXXXX  XXX\tok"
    assert len(output) == len(text)
    assert (reps[0].out_start, reps[0].out_end) == (6, 21) and reps[0].operator == "mask"
    output, reps = apply_operator(TEXT, MENTIONS, mode="mask")
    assert len(output) == len(TEXT)
    assert all((r.start, r.end) == (r.out_start, r.out_end) for r in reps)
    check_offsets(TEXT, output, reps)


def test_a_date_that_tells_an_age_over_89_is_redacted_in_surrogate_mode():
    # the age is grouped to 90+, so a birth date shifted by less than a year must not show it
    text = "DOB 5/2/1925, seen 3/14/2021 (95 yo); sister born 6/1/1935."
    found = [("5/2/1925", "DATE"), ("3/14/2021", "DATE"), ("95", "AGE"), ("6/1/1935", "DATE")]
    mentions = [PhiMention(text.index(t), text.index(t) + len(t), label, "rule:x", 1.0, "") for t, label in found]
    generator = SurrogateGenerator("k", min_shift_days=10, max_shift_days=10)
    output, reps = apply_operator(text, mentions, mode="surrogate", patient_id="p1", generator=generator)
    assert output == "DOB [DATE], seen 3/4/2021 (90+ yo); sister born 5/22/1935."
    assert [r.operator for r in reps] == ["redact_fallback", "date_shift", "age_group", "date_shift"]


def test_annotate_keeps_text():
    output, reps = apply_operator(TEXT, MENTIONS, mode="annotate")
    assert output == TEXT
    assert all(r.operator == "keep" and r.new_text == TEXT[r.start : r.end] for r in reps)


def test_surrogate_mode():
    generator = SurrogateGenerator("k", min_shift_days=10, max_shift_days=10)
    output, reps = apply_operator(TEXT, MENTIONS, mode="surrogate", patient_id="p1", generator=generator)
    check_offsets(TEXT, output, reps)
    by_label = {r.label: r for r in reps}
    assert by_label["DATE"].new_text == "3/4/2021" and by_label["DATE"].operator == "date_shift"
    assert by_label["AGE"].new_text == "90+" and by_label["AGE"].operator == "age_group"
    assert {by_label[label].operator for label in ("NAME", "LOCATION", "ID", "CONTACT")} == {"surrogate"}
    for r in reps:
        if r.label != "AGE":
            assert r.new_text != TEXT[r.start : r.end]
    assert "Smith" not in output and "12345678" not in output and "555-9876" not in output
    assert re.search(r"call \d{3}-\d{3}-\d{4}\.$", output)


def test_surrogate_dates_without_a_year_take_the_notes_year():
    # Read in leap year 2000, "3/16" would come out three days after the shifted "3/14/2093"
    text = "SEEN 3/14/2093 AND 3/16"
    generator = SurrogateGenerator("k", min_shift_days=45, max_shift_days=45)
    mentions = find_mentions(text, [("3/14/2093", "DATE", ""), ("3/16", "DATE", "")])
    output, _ = apply_operator(text, mentions, mode="surrogate", patient_id="p1", generator=generator)
    assert output == "SEEN 1/28/2093 AND 1/30"


def test_surrogate_consistent_across_notes_of_a_patient():
    generator = SurrogateGenerator("k")
    note_b = "SMITH, JOHN called on 3/14/2021."
    out_a, reps_a = apply_operator(TEXT, MENTIONS, mode="surrogate", patient_id="p1", generator=generator)
    mentions_b = find_mentions(note_b, [("SMITH", "NAME", ""), ("JOHN", "NAME", ""), ("3/14/2021", "DATE", "")])
    out_b, reps_b = apply_operator(note_b, mentions_b, mode="surrogate", patient_id="p1", generator=generator)
    first, last = reps_a[0].new_text.split()
    assert [r.new_text for r in reps_b] == [last.upper(), first.upper(), reps_a[1].new_text]
    _, reps_c = apply_operator(note_b, mentions_b, mode="surrogate", patient_id="p2", generator=generator)
    assert [r.new_text for r in reps_c] != [r.new_text for r in reps_b]


def test_surrogate_falls_back_to_redaction():
    generator = SurrogateGenerator("k", pools={"last_name": ["Smith"]})
    text = "Seen by Smith on 1980s."
    mentions = find_mentions(text, [("Smith", "NAME", ""), ("1980s", "DATE", "")])
    output, reps = apply_operator(text, mentions, mode="surrogate", patient_id="p", generator=generator)
    assert output == "Seen by [NAME] on [DATE]."
    assert [r.operator for r in reps] == ["redact_fallback", "redact_fallback"]
    check_offsets(text, output, reps)


def test_mentions_in_any_order():
    expected = apply_operator(TEXT, MENTIONS, mode="redact")
    assert apply_operator(TEXT, list(reversed(MENTIONS)), mode="redact") == expected
    assert apply_operator(TEXT, [], mode="redact") == (TEXT, [])


@pytest.mark.parametrize(
    "kwargs,code",
    [
        ({"mode": "scramble"}, "E720"),
        ({"mode": "surrogate"}, "E721"),
        ({"mode": "mask", "mask_char": "**"}, "E724"),
        ({"mode": "mask", "mask_char": " "}, "E724"),
        ({"mode": "redact", "tag_format": "[{category}]"}, "E725"),
        ({"mode": "redact", "tag_format": "[{label"}, "E725"),
    ],
)
def test_bad_arguments_raise(kwargs, code):
    with pytest.raises(ValueError, match=code):
        apply_operator(TEXT, MENTIONS, **kwargs)


def test_bad_mentions_raise_without_leaking_text():
    overlapping = [PhiMention(3, 13, "NAME", "rule"), PhiMention(8, 18, "NAME", "model")]
    with pytest.raises(ValueError, match="E723") as err:
        apply_operator(TEXT, overlapping, mode="redact")
    assert "Smith" not in str(err.value) and "3-13" in str(err.value)
    with pytest.raises(ValueError, match="E722") as err:
        apply_operator("short", [PhiMention(2, 40, "ID", "rule")], mode="mask")
    assert "short" not in str(err.value) and "length 5" in str(err.value)


def test_long_text_is_fast_and_linear():
    """1,000,000 characters, 8,000 mentions: one pass, no quadratic string building. Times are
    CPU times of this process (the machine is shared), without garbage collection pauses."""
    unit = "Pt John Smith seen 3/14/2021, MRN 12345678, call 410-555-9876; no change overnight. " + "x" * 166
    text = unit * 4000
    assert len(text) == 1_000_000
    mentions = find_mentions(text, [("John Smith", "NAME", ""), ("3/14/2021", "DATE", "")])
    assert len(mentions) == 8000
    generator = SurrogateGenerator("k")
    for mode in ("redact", "mask", "surrogate"):
        start = time.process_time()
        output, reps = apply_operator(text, mentions, mode=mode, patient_id="p", generator=generator)
        assert time.process_time() - start < 2.0, mode
        assert len(reps) == 8000
        assert output[reps[-1].out_start : reps[-1].out_end] == reps[-1].new_text
        assert output[reps[-1].out_end :] == text[reps[-1].end :]

    def best_time(text, mentions):
        times = []
        gc.disable()
        try:
            for _ in range(7):
                start = time.process_time()
                apply_operator(text, mentions, mode="redact")
                times.append(time.process_time() - start)
        finally:
            gc.enable()
        return min(times)

    # 8x the text and mentions: linear code takes ~8-10x as long, repeated slicing ~60x
    small = unit * 500
    ratio = best_time(text, mentions) / best_time(small, [m for m in mentions if m.end <= len(small)])
    assert ratio < 24
