"""The de-identification engine: PHI-only pipeline loading, streaming in order, chunking of
notes of any length, and failures that stay with their note."""

import re

import pytest
import spacy
from spacy.language import Language

from helpers import add_tiny_encoder, fit, regex_phi_nlp, span_examples
from spacy_clintiny.deid.engine import Deidentifier, load_deid_pipeline, phi_components, split_text
from spacy_clintiny.deid.types import DetectorOptions, NoteRecord

PHONE = "617-555-0199"
DATE = "3/14/2021"
PHI_RE = re.compile(r"\b\d{3}-\d{3}-\d{4}\b|\b\d{1,2}/\d{1,2}/\d{4}\b")


@Language.component("test_deid_boom")
def boom(doc):
    if "BOOM" in doc.text:
        raise RuntimeError("component failure with note text BOOM 617-555-0199")
    return doc


@pytest.fixture
def regex_nlp():
    """Phones (CONTACT) and dates (DATE)."""
    return regex_phi_nlp("test_deid_regex_phi", PHI_RE, lambda text, m: "DATE" if "/" in m.group() else "CONTACT")


def run(nlp, texts, **kwargs):
    records = [NoteRecord(f"n{i}", text) for i, text in enumerate(texts)]
    return list(Deidentifier(nlp, **kwargs).run(records))


def test_split_text_covers_the_text_and_cuts_at_line_breaks_then_spaces():
    text = "aaaa\nbbbb\ncc dd ee\n" + "x" * 25
    pieces = split_text(text, 12)
    assert "".join(text[s:e] for s, e in pieces) == text
    assert all(0 < e - s <= 12 for s, e in pieces)
    assert pieces[:2] == [(0, 10), (10, 19)]  # after "bbbb\n", after "ee\n"
    assert [e - s for s, e in pieces[2:]] == [12, 12, 1]  # no whitespace: hard cuts
    assert split_text("one two three", 8) == [(0, 8), (8, 13)]  # after "two "
    assert split_text("", 10) == []


def test_split_text_prefers_sentence_ends_to_a_title_and_its_name():
    text = "Pt stable overnight. Seen by Dr. Zorbaxit today"
    # without line breaks: after "overnight. ", not after "Dr. " (the name would lose its cue)
    assert split_text(text, 40)[0] == (0, 21)


def test_redact_keeps_order_and_known_answers(regex_nlp):
    texts = [f"Call {PHONE} on {DATE}.", "No PHI here.", "", f"Seen {DATE}"]
    results = run(regex_nlp, texts, batch_size=2)
    assert [r.record.note_id for r in results] == ["n0", "n1", "n2", "n3"]
    assert [r.text for r in results] == ["Call [CONTACT] on [DATE].", "No PHI here.", "", "Seen [DATE]"]
    assert [(m.start, m.end, m.label, m.source) for m in results[0].mentions] == [
        (5, 17, "CONTACT", "rule:test"),
        (21, 30, "DATE", "rule:test"),
    ]
    assert all(r.error is None for r in results)


def test_mask_and_annotate_keep_offsets(regex_nlp):
    text = f"Call {PHONE}."
    masked, annotated = run(regex_nlp, [text], mode="mask")[0], run(regex_nlp, [text], mode="annotate")[0]
    assert masked.text == "Call ************."
    assert annotated.text == text and [r.operator for r in annotated.replacements] == ["keep"]


def test_a_bad_note_fails_alone_without_text_in_the_error(regex_nlp):
    records = [NoteRecord("ok1", f"Call {PHONE}"), NoteRecord("bad", b"bytes are not text"), NoteRecord("ok2", DATE)]
    results = list(Deidentifier(regex_nlp).run(records))
    assert [r.text for r in results] == ["Call [CONTACT]", None, "[DATE]"]
    assert "[E744]" in results[1].error and "bad" in results[1].error and "bytes" in results[1].error


def test_a_failing_component_fails_only_its_notes(regex_nlp):
    regex_nlp.add_pipe("test_deid_boom")
    texts = [f"a {PHONE}", f"BOOM {PHONE}", "c", "BOOM", f"e {DATE}"]
    results = run(regex_nlp, texts, batch_size=2)
    assert [r.text for r in results] == ["a [CONTACT]", None, "c", None, "e [DATE]"]
    assert "[E745]" in results[1].error and "[E745]" in results[3].error
    assert PHONE not in results[1].error and "BOOM" not in results[1].error


def test_the_engine_leaves_the_callers_error_handlers_as_they_were(regex_nlp):
    regex_nlp.add_pipe("test_deid_boom")
    run(regex_nlp, ["BOOM", "fine"])
    with pytest.raises(RuntimeError):  # the caller's own nlp raises again after the engine ran
        regex_nlp("BOOM")


def test_an_error_inside_clintiny_deid_fails_only_its_note(monkeypatch):
    from spacy_clintiny.components import deid as component

    nlp = load_deid_pipeline("rules")
    detect = component.PhiDetector.__call__

    def failing(self, doc):
        if "BOOM" in doc.text:
            raise RuntimeError("invented")
        return detect(self, doc)

    monkeypatch.setattr(component.PhiDetector, "__call__", failing)
    results = run(nlp, [f"a {PHONE}", "BOOM", f"c {DATE}"])
    assert [r.text for r in results] == ["a [CONTACT]", None, "c [DATE]"] and results[1].error


def test_surrogates_never_copy_another_kind_of_phi_glued_to_a_span():
    from spacy_clintiny.deid.operators import mode_operator

    nlp = load_deid_pipeline("rules")
    texts = [
        "Seen by Dr. Zell,3/4/2021 again.",
        "Son Quentin Quilligan,617-555-1234 called.",
        "In Springfield\nMarisol",
    ]
    engine = Deidentifier(nlp, mode="surrogate", generator=mode_operator("surrogate", "k" * 20))
    out = [r.text for r in engine.run([NoteRecord(str(i), t, None) for i, t in enumerate(texts)])]
    assert "3/4/2021" not in out[0] and "Zell" not in out[0]
    assert "Quilligan" not in out[1] and "617-555-1234" not in out[1]
    redacted = [r.text for r in Deidentifier(nlp, mode="redact").run([NoteRecord("t", texts[2], None)])]
    assert redacted == ["In [LOCATION]\n[NAME]"]  # the line break after a town stays


def test_a_failing_operator_fails_only_its_note(regex_nlp, monkeypatch):
    from spacy_clintiny.deid import operators

    real = operators.apply_operator

    def flaky(text, mentions, **kwargs):
        if "fail" in text:
            raise KeyError(f"secret {text}")
        return real(text, mentions, **kwargs)

    monkeypatch.setattr(operators, "apply_operator", flaky)
    results = run(regex_nlp, [f"fail {PHONE}", f"ok {PHONE}"])
    assert results[0].text is None and "[E746]" in results[0].error and "KeyError" in results[0].error
    assert "secret" not in results[0].error and PHONE not in results[0].error
    assert results[1].text == "ok [CONTACT]"


def test_a_note_over_a_million_characters_is_covered_to_the_end(regex_nlp):
    line = "Pt resting comfortably, vitals stable, no acute events overnight.\n"
    body = line * (1_000_000 // len(line) + 1)
    text = f"{PHONE} start\n" + body + f"end {DATE} and {PHONE}"
    assert len(text) > 1_000_000 > regex_nlp.max_length - 1
    (result,) = run(regex_nlp, [text])
    assert result.error is None
    assert result.text.startswith("[CONTACT] start\n") and result.text.endswith("end [DATE] and [CONTACT]")
    assert PHONE not in result.text and DATE not in result.text
    assert len(result.mentions) == 3


def test_phi_at_chunk_boundaries_is_found(regex_nlp):
    # Chunks of 40 characters: each PHI string ends a line right before a cut or starts the next chunk.
    lines = [f"xxxxxxxxxxxxxxxxxxxxxxxxxx {PHONE}\n", f"{DATE} yyyyyyyyyyyyyyyyyyyyyyyyyyy\n"] * 50
    text = "".join(lines)
    (result,) = run(regex_nlp, [text], chunk_chars=40)
    assert len(result.mentions) == 100
    assert PHONE not in result.text and DATE not in result.text
    assert result.text.count("[CONTACT]") == 50 and result.text.count("[DATE]") == 50


def test_invalid_settings_are_refused(regex_nlp):
    with pytest.raises(ValueError, match="E742"):
        Deidentifier(regex_nlp, mode="erase")
    with pytest.raises(ValueError, match="E743"):
        Deidentifier(regex_nlp, chunk_chars=regex_nlp.max_length + 1)
    with pytest.raises(ValueError, match="E743"):
        Deidentifier(regex_nlp, batch_size=0)


def test_two_processes_give_the_same_results(regex_nlp):
    texts = [f"note {i} call {PHONE} on {DATE}" if i % 3 else f"note {i}" for i in range(40)]
    one = [r.text for r in run(regex_nlp, texts, batch_size=4)]
    two = [r.text for r in run(regex_nlp, texts, batch_size=4, n_process=2)]
    assert one == two and one[1] == "note 1 call [CONTACT] on [DATE]"


def test_rules_only_pipeline(monkeypatch):
    import huggingface_hub.constants
    import transformers.utils.hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(transformers.utils.hub, "_is_offline_mode", False)
    nlp = load_deid_pipeline("rules")
    assert nlp.pipe_names == ["clintiny_deid"]
    assert huggingface_hub.constants.HF_HUB_OFFLINE and transformers.utils.hub.is_offline_mode()  # no hub at run time
    (result,) = run(nlp, [f"Call {PHONE} on {DATE}."])
    assert PHONE not in result.text and DATE not in result.text


def test_detector_options_are_checked_when_made_and_hide_the_lists():
    options = DetectorOptions.make(
        threshold=1, dictionary_gate=0, allow_list=["LA"], deny_list={"NAME": ["Kowalczyk", "Quimbleton"]}
    )
    assert options == DetectorOptions.make(
        threshold=1.0, dictionary_gate=0.0, allow_list=("LA",), deny_list={"NAME": ("Kowalczyk", "Quimbleton")}
    )
    assert hash(options) == hash(DetectorOptions.make(threshold=1.0, dictionary_gate=0.0, allow_list=("LA",),
                                                      deny_list={"NAME": ["Kowalczyk", "Quimbleton"]}))  # fmt: skip
    assert options.threshold == 1.0 and isinstance(options.threshold, float)
    assert options.deny_dict() == {"NAME": ["Kowalczyk", "Quimbleton"]}
    report = options.report()
    assert (report["allow_list_terms"], report["deny_list_terms"], report["dictionary_gate"]) == (1, 2, 0.0)
    assert "Kowalczyk" not in repr(report)  # a results file gets the sizes of the lists, never their terms
    for settings, code in (
        ({"profile": "loose"}, "E713"),
        ({"outside_weight": 0.0}, "E762"),
        ({"outside_weight": True}, "E762"),
        ({"dictionary_gate": 2}, "E894"),
        ({"dictionary_gate": "0.1"}, "E894"),
    ):
        with pytest.raises(ValueError, match=code):
            DetectorOptions(**settings)
    with pytest.raises(TypeError, match="not both"):
        load_deid_pipeline("rules", DetectorOptions(), rules=False)
    # the options object and the keywords load the same pipeline
    by_object = load_deid_pipeline("rules", DetectorOptions(profile="precision", dictionary_gate=0.2))
    by_keywords = load_deid_pipeline("rules", profile="precision", dictionary_gate=0.2)
    for nlp in (by_object, by_keywords):
        pipe = nlp.get_pipe("clintiny_deid")
        assert pipe.cfg["dictionary_gate"] == 0.2 and pipe.detector.to_dict()["profile"] == "precision"


def test_missing_model_and_nothing_to_detect_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"E740.*no_such_pipeline"):
        load_deid_pipeline(str(tmp_path / "no_such_pipeline"))
    with pytest.raises(ValueError, match=r"E741.*rules"):
        load_deid_pipeline("rules", rules=False)


def test_phi_components_keeps_the_phi_head_and_its_encoder():
    config = {
        "nlp": {"pipeline": ["enc", "other_enc", "ner_phi", "ner_concepts", "textcat", "context"]},
        "components": {
            "enc": {"factory": "clintiny_encoder"},
            "other_enc": {"factory": "transformer"},
            "ner_phi": {"factory": "clintiny_ner", "spans_key": "phi", "model": {"tok2vec": {"upstream": "enc"}}},
            "ner_concepts": {
                "factory": "clintiny_ner",
                "spans_key": "concepts",
                "model": {"tok2vec": {"upstream": "other_enc"}},
            },
            "textcat": {"factory": "clintiny_textcat"},
            "context": {"factory": "medspacy_context"},
        },
    }
    assert phi_components(config)["keep"] == ["enc", "ner_phi"]
    config["components"]["ner_phi"]["model"]["tok2vec"]["upstream"] = "*"
    assert phi_components(config)["keep"] == ["enc", "other_enc", "ner_phi"]


PHI_TRAIN = [("John Smith was seen at Boston clinic.", [(0, 10, "NAME"), (23, 29, "LOCATION")])]
CONCEPTS_TRAIN = [("Patient denies chest pain.", [(15, 25, "PROBLEM")])]


def test_a_saved_pipeline_loads_with_only_the_phi_parts(tiny_encoder, tmp_path):
    nlp = spacy.blank("en")
    add_tiny_encoder(nlp, tiny_encoder)
    nlp.add_pipe("clintiny_ner", name="ner_phi", config={"spans_key": "phi"})
    nlp.add_pipe("clintiny_ner", name="ner_concepts", config={"spans_key": "concepts", "write_ents": True})
    fit(nlp, span_examples(nlp, PHI_TRAIN, "phi") + span_examples(nlp, CONCEPTS_TRAIN, "concepts"), n_updates=1)
    nlp.to_disk(tmp_path / "pipeline")
    loaded = load_deid_pipeline(str(tmp_path / "pipeline"), threshold=0.5)
    assert loaded.pipe_names == ["clintiny_encoder", "ner_phi", "clintiny_deid"]
    assert loaded.get_pipe("clintiny_deid").cfg["threshold"] == 0.5
    (result,) = run(loaded, [f"John Smith called from {PHONE}."])
    assert result.error is None and PHONE not in result.text
    no_rules = load_deid_pipeline(str(tmp_path / "pipeline"), rules=False)  # the PHI head alone is enough
    assert "ner_phi" in no_rules.pipe_names


def test_outside_weight_sets_the_phi_head_and_bad_values_are_refused(tiny_encoder, tmp_path):
    nlp = spacy.blank("en")
    add_tiny_encoder(nlp, tiny_encoder)
    nlp.add_pipe("clintiny_ner", name="ner_phi", config={"spans_key": "phi", "outside_weight": 0.3})
    fit(nlp, span_examples(nlp, PHI_TRAIN, "phi"), n_updates=1)
    nlp.to_disk(tmp_path / "pipeline")
    path = str(tmp_path / "pipeline")
    assert load_deid_pipeline(path).get_pipe("ner_phi").cfg["outside_weight"] == pytest.approx(0.3)  # as saved
    text = "John Smith was seen at Boston clinic on the ward today."
    found = {}
    for weight in (1.0, 1e-6):
        loaded = load_deid_pipeline(path, rules=False, outside_weight=weight)
        assert loaded.get_pipe("ner_phi").cfg["outside_weight"] == weight
        found[weight] = len(loaded(text).spans["phi"])
    assert found[1e-6] > 0 and found[1e-6] >= found[1.0]  # the O tag all but vetoed: spans everywhere
    for bad in (0, -0.5, float("nan"), "0.3", True):
        with pytest.raises(ValueError, match="E762"):
            load_deid_pipeline(path, outside_weight=bad)
    with pytest.raises(ValueError, match="E763"):
        load_deid_pipeline("rules", outside_weight=0.3)


def test_options_given_at_load_keep_a_saved_pipelines_deny_list(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_deid", config={"deny_list": {"NAME": ["Quilligan"]}, "mode": "annotate"})
    nlp.to_disk(tmp_path / "saved")
    text = "Seen by Quilligan and Tarrowby in the ICU."
    for options in ({"allow_list": ["ICU"]}, {"deny_list": {"NAME": ["Tarrowby"]}}, {}):
        loaded = load_deid_pipeline(str(tmp_path / "saved"), **options)
        doc = loaded(text)
        found = {s.text for s in doc.spans["phi"]}
        assert "Quilligan" in found, options  # the saved deny list survives every option
        assert ("Tarrowby" in found) == ("deny_list" in options)


def test_an_empty_or_blank_patient_id_is_no_patient():
    assert NoteRecord("a", "x", "").patient_id is None and NoteRecord("b", "x", "  ").patient_id is None
    from spacy_clintiny.deid.surrogate import SurrogateGenerator

    generator = SurrogateGenerator("a test key of some length")
    engine = Deidentifier(load_deid_pipeline("rules"), mode="surrogate", generator=generator)
    text = "Mrs. Harding seen 9/23/2093."
    out = {r.record.note_id: r.text for r in engine.run([NoteRecord("a", text, ""), NoteRecord("b", text, " ")])}
    shared = {r.record.note_id: r.text for r in engine.run([NoteRecord("a", text, "p"), NoteRecord("b", text, "p")])}
    assert shared["a"] == shared["b"] and out["a"] != out["b"]  # two patients, not one shared ""


def test_a_bad_head_precision_is_refused_at_load_not_per_note(monkeypatch):
    from spacy_clintiny.deid.engine import load_deid_pipeline

    monkeypatch.setenv("CLINTINY_HEAD_PRECISION", "half")
    with pytest.raises(ValueError, match=r"E921.*CLINTINY_HEAD_PRECISION='half'"):
        load_deid_pipeline("rules")
