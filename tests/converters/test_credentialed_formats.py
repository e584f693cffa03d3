"""i2b2 2014/2012/2010, n2c2 2018 BRAT and MedNLI on invented fixtures written to the published
specifications, plus the public i2b2-2010 and SNLI format samples."""

import pytest

from spacy_clintiny.converters import (
    ConversionReport,
    read_brat,
    read_i2b2_2010,
    read_i2b2_2012,
    read_i2b2_2014,
    read_mednli,
)


def _spans(doc, key):
    return [(s.text, s.label_, s.kb_id_, s.id_) for s in doc.spans[key]]


def _rels(doc, key):
    spans = {(s.start_char, s.end_char): s.text for k in doc.spans for s in doc.spans[k]}
    return {(spans[tuple(r["head"])], r["label"], spans[tuple(r["tail"])]) for r in doc.user_data[key]}


def test_i2b2_2014_phi(fixtures_dir):
    report = ConversionReport("i2b2-2014")
    docs = list(read_i2b2_2014(fixtures_dir / "i2b2-2014", report=report))
    assert [d.user_data["clintiny_source"]["group"] for d in docs] == ["110", "110", "111"]
    first = _spans(docs[0], "phi")
    assert ("Ulysses Quon", "NAME", "DOCTOR", "") in first
    assert ("(781) 555-0143", "CONTACT", "PHONE", "") in first
    assert ("machinist", "PROFESSION", "PROFESSION", "") in first
    assert report.spans["phi"] == {
        "NAME": 6,
        "DATE": 4,
        "LOCATION": 8,
        "ID": 2,
        "AGE": 2,
        "CONTACT": 2,
        "PROFESSION": 1,
    }
    assert report.n_unplaceable == 0 and "clintiny_rels" not in docs[0].user_data


def test_i2b2_2014_realigns_shifted_offsets(fixtures_dir, tmp_path):
    raw = (fixtures_dir / "i2b2-2014" / "110-02.xml").read_text()
    shifted = raw.replace('start="16" end="26"', 'start="17" end="27"')
    assert shifted != raw
    (tmp_path / "110-02.xml").write_text(shifted)
    report = ConversionReport("i2b2-2014")
    doc = next(read_i2b2_2014(tmp_path, report=report))
    assert report.events["adjusted"]["offsets_realigned"] == 1
    assert doc.spans["phi"][0].text == "2089-01-12"


def test_i2b2_2012_events_timex_tlinks(fixtures_dir):
    doc = next(read_i2b2_2012(fixtures_dir / "i2b2-2012"))
    concepts = _spans(doc, "concepts")
    assert ("fever", "PROBLEM", "PROBLEM", "absent") in concepts
    assert ("pneumonia", "PROBLEM", "PROBLEM", "possible") in concepts
    assert ("follow up", "TREATMENT", "TREATMENT", "hypothetical") in concepts
    assert [s.label_ for s in doc.spans["events"]] == ["OCCURRENCE", "CLINICAL_DEPT"]
    assert [s.label_ for s in doc.spans["timex"]] == ["DATE", "DATE", "DURATION"]
    assert ("chest x-ray", "TLINK_BEFORE", "pneumonia") in _rels(doc, "clintiny_rels")
    assert len(doc.user_data["clintiny_rels"]) == 5


def test_i2b2_2010_release_layout_with_assertions_and_relations(fixtures_dir):
    report = ConversionReport("i2b2-2010")
    doc = next(read_i2b2_2010(fixtures_dir / "i2b2-2010", report=report))
    concepts = {text: (label, assertion) for text, label, _, assertion in _spans(doc, "concepts")}
    assert concepts["chest pain"] == ("PROBLEM", "absent")
    assert concepts["breast cancer"] == ("PROBLEM", "associated_with_someone_else")
    assert concepts["wheezing"] == ("PROBLEM", "conditional")
    assert concepts["his fever"] == ("PROBLEM", "hypothetical")
    assert concepts["A chest x-ray"] == ("TEST", "")
    assert _rels(doc, "clintiny_rels") == {
        ("A chest x-ray", "TeRP", "a right lower lobe infiltrate"),
        ("levofloxacin", "TrAP", "the pneumonia"),
        ("Lisinopril", "TrNAP", "hypotension"),
        ("a right lower lobe infiltrate", "PIP", "pneumonia"),
    }
    assert report.n_unplaceable == 0


def test_i2b2_2014_saved_with_crlf_is_read_as_an_xml_parser_reads_it(fixtures_dir, tmp_path):
    source = fixtures_dir / "i2b2-2014" / "110-01.xml"
    (tmp_path / "110-01.xml").write_bytes(source.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    expected = next(read_i2b2_2014(source, report=ConversionReport("i2b2-2014")))
    report = ConversionReport("i2b2-2014")
    doc = next(read_i2b2_2014(tmp_path / "110-01.xml", report=report))
    assert _spans(doc, "phi") == _spans(expected, "phi") and report.n_unplaceable == 0
    assert report.events["adjusted"]["xml_line_ends_normalized"] == 1


def test_i2b2_2010_same_tokens_with_two_types_keeps_the_first_and_reports_the_other(fixtures_dir, tmp_path):
    import shutil

    shutil.copytree(fixtures_dir / "i2b2-2010", tmp_path / "i2b2-2010")
    con = tmp_path / "i2b2-2010" / "concept" / "record-101.con"
    con.write_text(con.read_text() + 'c="chest pain" 5:2 5:3||t="test"\n')
    report = ConversionReport("i2b2-2010")
    doc = next(read_i2b2_2010(tmp_path / "i2b2-2010", report=report))
    assert [label for text, label, _, _ in _spans(doc, "concepts") if text == "chest pain"] == ["PROBLEM"]
    assert report.events["unplaceable"]["same_tokens_other_type"] == 1


def test_i2b2_2010_public_format_samples(data):
    report = ConversionReport("i2b2-2010")
    docs = {
        d.user_data["clintiny_source"]["doc_id"]: d
        for d in read_i2b2_2010(data("format-samples", "i2b2-2010"), report=report)
    }
    con_lines = sum(len(p.read_text().splitlines()) for p in data("format-samples", "i2b2-2010").rglob("*.con"))
    assert sum(len(d.spans["concepts"]) for d in docs.values()) == con_lines
    assert len(docs["health"].user_data["clintiny_rels"]) == 8
    assert "clintiny_rels" not in docs["pretend"].user_data
    assert report.n_unplaceable == 0


def test_n2c2_2018_preset_turns_relations_drug_first(fixtures_dir):
    report = ConversionReport("brat")
    doc = next(read_brat(fixtures_dir / "n2c2-2018", label_map="n2c2-2018", report=report))
    rels = _rels(doc, "clintiny_rels")
    assert ("Metoprolol", "DRUG_DOSE", "25 mg") in rels
    assert ("Warfarin", "DRUG_DOSE", "2 tablets") in rels
    assert ("vancomycin", "DRUG_AE", "rash") in rels
    assert ("Metoprolol", "DRUG_REASON", "atrial fibrillation") in rels
    assert ("Aspirin", "DRUG_FREQUENCY", "once a day") in rels  # discontinuous "once ... day", joined
    assert report.events["adjusted"]["discontinuous_joined"] == 1
    assert {s.label_ for s in doc.spans["modifiers"]} == {"DOSE", "FORM", "ROUTE", "FREQUENCY", "DURATION"}
    assert len(doc.user_data["clintiny_rels"]) == 11 and report.n_unplaceable == 0


@pytest.mark.parametrize("mode,n_freq,unplaceable", [("fragments", 4, 0), ("skip", 2, 2)])
def test_brat_discontinuous_modes(fixtures_dir, mode, n_freq, unplaceable):
    report = ConversionReport("brat")
    doc = next(read_brat(fixtures_dir / "n2c2-2018", label_map="n2c2-2018", discontinuous=mode, report=report))
    assert sum(s.label_ == "FREQUENCY" for s in doc.spans["modifiers"]) == n_freq
    # "skip" loses the span and its relation, both reported
    assert report.n_unplaceable == unplaceable


def test_brat_generic_with_json_label_map_and_attributes(fixtures_dir):
    report = ConversionReport("brat")
    doc = next(
        read_brat(
            fixtures_dir / "brat-generic", label_map=str(fixtures_dir / "brat-generic" / "labelmap.json"), report=report
        )
    )
    assert _spans(doc, "concepts") == [
        ("chest pain", "PROBLEM", "Problem", "absent"),
        ("pneumonia", "PROBLEM", "Problem", "possible"),
        ("CXR", "TEST", "Test", ""),
        ("diabetes", "PROBLEM", "Problem", "associated_with_someone_else"),
    ]
    assert _rels(doc, "clintiny_rels") == {("CXR", "TeRP", "pneumonia")}
    assert report.events["info"]["normalization_not_converted"] == 1


def test_mednli_pairs(fixtures_dir, data):
    docs = list(read_mednli(fixtures_dir / "mednli"))
    assert len(docs) == 5
    for doc in docs:
        premise, hypothesis = doc.spans["nli_pair"]
        assert (premise.label_, hypothesis.label_) == ("PREMISE", "HYPOTHESIS")
        assert doc.text == premise.text + "\n" + hypothesis.text
        assert sorted(doc.cats.values()) == [0.0, 0.0, 1.0]
    assert docs[1].cats["contradiction"] == 1.0
    groups = [d.user_data["clintiny_source"]["group"] for d in docs]
    assert len(set(groups[:3])) == 1 and groups[3] != groups[0]  # split unit = premise
    snli = list(read_mednli(data("format-samples", "mednli-proxy-snli", "snli.jsonl")))
    assert [max(d.cats, key=d.cats.get) for d in snli] == ["neutral", "contradiction", "entailment"]
