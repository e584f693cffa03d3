"""clintiny_deid: the PHI head's spans united with the rules, one merged group, saved and loaded."""

import os
import subprocess
import sys

import pytest
import spacy
from spacy.tokens import SpanGroup

from spacy_clintiny.components.deid import phi_mentions

TEXT = "Pt seen by Dr. Smith on 3/14/2021 in LA clinic, call (617) 555-1234."


def with_model_spans(nlp, text, spans):
    """A doc as a PHI head leaves it: ``(start_char, end_char, label, score)`` in doc.spans["phi"]."""
    doc = nlp.make_doc(text)
    doc.spans["phi"] = SpanGroup(
        doc,
        name="phi",
        spans=[doc.char_span(s, e, label=lab) for s, e, lab, _ in spans],
        attrs={"scores": [sc for *_, sc in spans]},
    )
    return doc


def found(doc):
    return [(doc.text[m.start : m.end], m.label, m.source) for m in phi_mentions(doc)]


def test_model_and_rule_spans_are_merged_with_their_sources():
    nlp = spacy.blank("en")
    deid = nlp.add_pipe("clintiny_deid")
    # the model finds "Dr. Smith" (longer than the rule's "Smith") and a date the rules also find
    doc = with_model_spans(nlp, TEXT, [(11, 20, "NAME", 0.9), (24, 33, "DATE", 0.8), (37, 39, "LOCATION", 0.7)])
    doc = deid(doc)
    assert found(doc) == [
        ("Dr. Smith", "NAME", "model"),  # longest span wins the label and the source
        ("3/14/2021", "DATE", "rule:numeric_date"),  # same extent: the rule is the more precise source
        ("(617) 555-1234", "CONTACT", "rule:phone"),
    ]  # "LA" is on the shipped allow list: the model span is dropped
    assert doc.spans["phi"].attrs["scores"][0] == pytest.approx(0.9)


def test_check_dates_drops_model_dates_that_are_clinical_numbers(tmp_path):
    from spacy_clintiny.deid.engine import load_deid_pipeline

    text = "PSV 12/10, pain 3/10, pads 22-29. Seen 3/14 and 031421; cx 2/4 on 3/15, 3-16."
    found_texts = ("12/10", "3/10", "22-29", "031421", "2/4", "3/15", "3-16")
    spans = [(text.index(t), text.index(t) + len(t), "DATE", 0.9) for t in found_texts]
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_deid", config={"rules": False, "check_dates": True})
    # the ventilator setting, the pain score, the range and the culture count are not dates;
    # six digits that read as MMDDYY, 3/15 by the rules' own test and a dash month-day are kept
    assert [t for t, *_ in found(nlp(with_model_spans(nlp, text, spans)))] == ["031421", "3/15", "3-16"]
    default = spacy.blank("en")
    default.add_pipe("clintiny_deid", config={"rules": False})  # off by default: recall first
    assert len(found(default(with_model_spans(default, text, spans)))) == 7
    # the engine's option reaches a saved component
    default.to_disk(tmp_path / "p")
    loaded = load_deid_pipeline(str(tmp_path / "p"), check_dates=True)
    assert loaded.get_pipe("clintiny_deid").cfg["check_dates"] is True


def test_threshold_rules_off_and_deny_list():
    nlp = spacy.blank("en")
    deid = nlp.add_pipe("clintiny_deid", config={"rules": False, "threshold": 0.5, "deny_list": {"NAME": ["Rocco"]}})
    doc = with_model_spans(nlp, "Rocco came with Smith today.", [(16, 21, "NAME", 0.4)])
    assert found(deid(doc)) == [("Rocco", "NAME", "deny_list")]


def test_rules_only_pipeline_without_a_phi_head():
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_deid")
    assert [label for _, label, _ in found(nlp(TEXT))] == ["NAME", "DATE", "CONTACT"]


def test_bad_config_names_the_value():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="E767.*1.5"):
        nlp.add_pipe("clintiny_deid", config={"threshold": 1.5})
    with pytest.raises(ValueError, match="E768.*'PERSON'"):
        nlp.add_pipe("clintiny_deid", name="d2", config={"categories": ["PERSON"]})
    with pytest.raises(ValueError, match="E894.*2.0"):
        nlp.add_pipe("clintiny_deid", name="d3", config={"dictionary_gate": 2.0})
    # a wrongly typed setting is our own error, not spaCy's, which prints the config and its deny list
    with pytest.raises(TypeError, match="E920.*threshold") as err:
        nlp.add_pipe("clintiny_deid", name="d4", config={"threshold": "0.5x", "deny_list": {"NAME": ["Xqvzor"]}})
    assert "Xqvzor" not in str(err.value)


def test_round_trip_through_disk_in_a_fresh_process(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_deid", config={"deny_list": {"NAME": ["Quilligan"]}, "threshold": 0.25})
    nlp.to_disk(tmp_path / "deid")
    code = (
        "import spacy, sys; nlp = spacy.load(sys.argv[1]); "
        "doc = nlp('Quilligan called 617-555-1234.'); "
        "print(sorted((s.label_, s.id_) for s in doc.spans['phi'])); "
        "print(nlp.get_pipe('clintiny_deid').cfg['threshold'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "deid")], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["[('CONTACT', 'rule:phone'), ('NAME', 'deny_list')]", "0.25"]


def test_a_config_given_at_load_that_the_saved_settings_replace_is_warned_about(tmp_path):
    import warnings

    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_deid", config={"mode": "redact", "deny_list": {"NAME": ["Quilligan"]}})
    nlp.to_disk(tmp_path / "p")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a plain load is quiet
        spacy.load(tmp_path / "p")
    with pytest.warns(UserWarning, match=r"W105.*\(mode differ\)") as caught:
        loaded = spacy.load(tmp_path / "p", config={"components": {"clintiny_deid": {"mode": "mask"}}})
    assert loaded.get_pipe("clintiny_deid").cfg["mode"] == "redact"
    assert "Quilligan" not in str(caught[0].message)


def test_a_pipeline_saved_after_load_deid_pipeline_changed_it_loads_quietly_with_the_changes(tmp_path):
    import warnings

    from spacy_clintiny.deid.engine import load_deid_pipeline

    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_deid", config={"deny_list": {"NAME": ["Quilligan"]}})
    nlp.to_disk(tmp_path / "p")
    changed = load_deid_pipeline(str(tmp_path / "p"), dictionary_gate=0.2, deny_list={"NAME": ["Xqvzor"]})
    changed.to_disk(tmp_path / "q")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # before: W105 on every plain load of the saved pipeline
        loaded = spacy.load(tmp_path / "q")
    pipe = loaded.get_pipe("clintiny_deid")
    assert pipe.cfg["dictionary_gate"] == 0.2 and pipe.cfg["mode"] == "annotate"
    assert pipe.detector.to_dict()["deny_list"]["NAME"] == ["Quilligan", "Xqvzor"]


def test_spans_of_another_component_with_other_labels_or_scores_are_not_dropped_silently():
    nlp = spacy.blank("en")
    deid = nlp.add_pipe("clintiny_deid", config={"rules": False})
    doc = with_model_spans(nlp, "Pt Xqvzor Plimm seen.", [(3, 15, "PATIENT", 0.9)])
    with pytest.warns(UserWarning, match=r"W106.*PATIENT"):
        deid(doc)
    doc = with_model_spans(nlp, "Pt Xqvzor Plimm seen.", [(3, 15, "NAME", 0.9)])
    doc.spans["phi"].attrs["scores"] = [0.9, 0.8]
    with pytest.raises(ValueError, match="E919"):
        deid(doc)


def test_missing_rules_file_is_a_clear_error(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_deid")
    nlp.to_disk(tmp_path / "deid")
    (tmp_path / "deid" / "clintiny_deid" / "rules.bin").unlink()
    with pytest.raises(ValueError, match="E769.*rules.bin"):
        spacy.load(tmp_path / "deid")


def test_propagation_within_the_doc_and_its_off_switch(tmp_path):
    # invented name: found from its title, then wherever it recurs in the doc, whatever its case
    text = "Seen by Dr. Quimbleton at 9. QUIMBLETON aware of plan, quimbleton to call back."
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_deid")
    assert found(nlp(text)) == [
        ("Quimbleton", "NAME", "rule:dr_name"),
        ("QUIMBLETON", "NAME", "propagated"),
        ("quimbleton", "NAME", "propagated"),
    ]
    off = spacy.blank("en")
    off.add_pipe("clintiny_deid", config={"propagate": False})
    assert found(off(text)) == [("Quimbleton", "NAME", "rule:dr_name")]
    off.to_disk(tmp_path / "off")
    assert spacy.load(tmp_path / "off").get_pipe("clintiny_deid").cfg["propagate"] is False


def test_the_engine_pipeline_leaves_propagation_to_the_engine(tmp_path):
    from spacy_clintiny.deid.engine import load_deid_pipeline

    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_deid")  # saved with propagation on
    nlp.to_disk(tmp_path / "on")
    for model in ("rules", str(tmp_path / "on")):
        assert load_deid_pipeline(model).get_pipe("clintiny_deid").cfg["propagate"] is False


GATED = "Kowalczyk and Springfield noted, Dr. Ostrowicz aware."  # invented; two cue-less list words


def with_token_scores(nlp, text, scores):
    """A doc as a PHI head leaves it that decoded no span: per-token PHI probabilities only."""
    doc = nlp.make_doc(text)
    doc.spans["phi"] = SpanGroup(doc, name="phi", spans=[], attrs={"scores": [], "token_scores": scores})
    return doc


def test_dictionary_hits_the_head_gives_no_chance_are_dropped(tmp_path):
    from spacy_clintiny.deid.engine import load_deid_pipeline

    nlp = spacy.blank("en")
    deid = nlp.add_pipe("clintiny_deid")  # dictionary_gate 0.01 by default
    n = len(nlp.make_doc(GATED))
    # the head gives the surname 0.2 and everything else 0.001: the town goes, the cued name stays
    scores = [0.001] * n
    scores[0] = 0.2
    assert found(deid(with_token_scores(nlp, GATED, scores))) == [
        ("Kowalczyk", "NAME", "rule:dict_name"),
        ("Ostrowicz", "NAME", "rule:dr_name"),
    ]
    # gate 0 keeps every hit; without the head's token scores (the rules alone) every hit stays
    every = [("Kowalczyk", "NAME", "rule:dict_name"), ("Springfield", "LOCATION", "rule:dict_city")]
    deid.cfg["dictionary_gate"] = 0.0
    assert found(deid(with_token_scores(nlp, GATED, scores)))[:2] == every
    deid.cfg["dictionary_gate"] = 0.01
    assert found(deid(nlp.make_doc(GATED)))[:2] == every
    # the engine's pipeline takes the gate, from its argument or the saved component's
    nlp.to_disk(tmp_path / "saved")
    assert load_deid_pipeline(str(tmp_path / "saved")).get_pipe("clintiny_deid").cfg["dictionary_gate"] == 0.01
    pipe = load_deid_pipeline(str(tmp_path / "saved"), dictionary_gate=0.2).get_pipe("clintiny_deid")
    assert pipe.cfg["dictionary_gate"] == 0.2
    with pytest.raises(ValueError, match="E894.*-1"):
        load_deid_pipeline("rules", dictionary_gate=-1)


def test_a_replacing_mode_writes_the_deidentified_text():
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_deid", config={"mode": "redact"})
    doc = nlp(TEXT)
    assert doc._.deid_text == "Pt seen by Dr. [NAME] on [DATE] in LA clinic, call [CONTACT]."
    assert doc.text == TEXT  # the doc itself is untouched; the spans are there as before
    annotate = spacy.blank("en")
    annotate.add_pipe("clintiny_deid")
    assert annotate(TEXT)._.deid_text is None
    with pytest.raises(ValueError, match="E742.*'scramble'"):
        nlp.add_pipe("clintiny_deid", name="d2", config={"mode": "scramble"})


def test_punctuation_that_token_alignment_adds_stays_in_the_output_and_glued_phi_does_not():
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_deid", config={"deny_list": {"NAME": ["Room 5B", "Xqvzor"]}, "mode": "redact"})
    doc = nlp("Seen in Room 5B. Then home. Call Xqvzor,617-555-1234.")
    # the spans are whole tokens ("5B." is one), the redaction keeps the period and takes in
    # the phone glued to the name
    assert [span.text for span in doc.spans["phi"]] == ["Room 5B.", "Xqvzor,617-555-1234"]
    assert doc._.deid_text == "Seen in [NAME]. Then home. Call [NAME]."
    assert doc.spans["phi"].attrs["chars"] == [[8, 15], [33, 52]]
    # a rule's whole token ends in a period: the period stays too
    assert nlp("Pt is a 92F.")._.deid_text == "Pt is a [AGE]."
    surrogate = spacy.blank("en")
    surrogate.add_pipe("clintiny_deid", config={"deny_list": {"NAME": ["Room 5B"]}, "mode": "surrogate"})
    text = surrogate("Seen in Room 5B. Then home.")._.deid_text
    assert text.startswith("Seen in ") and text.endswith(". Then home.") and "Room 5B" not in text


def test_a_custom_function_that_raises_is_reported_without_its_message(tmp_path):
    (tmp_path / "ops.py").write_text("def boom(text, **_):\n    raise ValueError('secret ' + text)\n")
    nlp = spacy.blank("en")
    config = {"mode": "custom", "custom": f"{tmp_path / 'ops.py'}:boom", "deny_list": {"NAME": ["Quilligan"]}}
    nlp.add_pipe("clintiny_deid", config=config)
    with pytest.raises(ValueError, match=r"E746.*\(ValueError\)") as caught:
        nlp("Seen by Quilligan.")
    assert "Quilligan" not in str(caught.value)


def test_keyed_modes_take_the_secret_from_the_environment_never_from_the_config(tmp_path, monkeypatch):
    key = "a component secret, long enough"
    monkeypatch.delenv("CLINTINY_DEID_KEY", raising=False)
    with pytest.raises(ValueError, match="E732"):
        spacy.blank("en").add_pipe("clintiny_deid", config={"mode": "encrypt"})
    monkeypatch.setenv("CLINTINY_DEID_KEY", key)
    outputs = []
    for _ in range(2):
        nlp = spacy.blank("en")
        nlp.add_pipe("clintiny_deid", config={"mode": "surrogate"})
        doc = nlp.make_doc(TEXT)
        doc._.deid_patient = "p1"
        outputs.append(nlp(doc)._.deid_text)
    assert outputs[0] == outputs[1] and "Smith" not in outputs[0] and "3/14/2021" not in outputs[0]
    nlp.to_disk(tmp_path / "deid")
    assert not any(
        key in path.read_bytes().decode("latin1") for path in (tmp_path / "deid").rglob("*") if path.is_file()
    )
    code = (
        "import spacy, sys; nlp = spacy.load(sys.argv[1]); doc = nlp.make_doc(sys.argv[2]); "
        "doc._.deid_patient = 'p1'; print(nlp(doc)._.deid_text)"
    )
    env = {**os.environ, "CLINTINY_DEID_KEY": key}
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "deid"), TEXT], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.rstrip("\n") == outputs[0]
