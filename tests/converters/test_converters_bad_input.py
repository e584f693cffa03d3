"""Malformed lines, out-of-range offsets, latin-1 / mixed encodings, overlapping and duplicate
spans, empty files: clear events naming file and line, the rest converted, non-zero exit only
when nothing usable came out."""

import json

import pytest
from typer.testing import CliRunner

from spacy_clintiny.converters import ConversionReport, read_ade, read_brat, read_physionet, read_pubtator

RECORDS = (
    "START_OF_RECORD=1||||1||||\nPT SEEN BY DR SMITH ON 3/4. WIFE MARY AT BEDSIDE.\n||||END_OF_RECORD\n\n"
    "START_OF_RECORD=1||||2||||\nCALLED 555-1234 RE: CAF\xc9 VISIT 3/5.\n||||END_OF_RECORD\n\n"
)


def _spans(doc, key):
    return [(s.start_char, s.end_char, s.label_, s.kb_id_) for s in doc.spans[key]]


@pytest.fixture
def bad_physionet(tmp_path):
    # latin-1 text (the \xc9), one malformed line, one out of range, a duplicate, an overlap
    (tmp_path / "id.text").write_bytes(RECORDS.encode("latin-1"))
    (tmp_path / "id-phi.phrase").write_text(
        "1 1 14 19 HCPName SMITH\n"
        "1 1 14 19 HCPName SMITH\n"  # duplicate
        "1 1 23 26 Date 3/4\n"
        "this line is broken\n"  # malformed
        "1 1 33 37 RelativeProxyName MARY\n"
        "1 1 33 35 RelativeProxyName MA\n"  # overlapping
        "1 2 7 15 Phone 555-1234\n"
        "1 2 500 504 Date 3/5\n"  # out of range
        "1 2 33 36 Date 3/5\n"  # 2 characters off (3/5 is at 31): realigned, counted
        "1 9 0 4 Date 3/5\n"  # unknown record
    )
    return tmp_path


def test_bad_physionet_lines_are_reported_rest_converted(bad_physionet):
    report = ConversionReport("physionet")
    docs = list(read_physionet(bad_physionet / "id.text", bad_physionet / "id-phi.phrase", report=report))
    assert [d.text for d in docs] == [
        "PT SEEN BY DR SMITH ON 3/4. WIFE MARY AT BEDSIDE.\n",
        "CALLED 555-1234 RE: CAF\u00c9 VISIT 3/5.\n",
    ]
    assert [_spans(d, "phi") for d in docs] == [
        [
            (14, 19, "NAME", "DOCTOR"),
            (23, 26, "DATE", "DATE"),
            (33, 35, "NAME", "RELATIVE"),
            (33, 37, "NAME", "RELATIVE"),
        ],
        [(7, 15, "CONTACT", "PHONE"), (31, 34, "DATE", "DATE")],
    ]
    events = report.to_dict()
    assert events["skipped"] == {"malformed_line": 1}
    assert events["unplaceable"] == {"offset_out_of_range": 1, "unknown_record": 1}
    assert events["adjusted"]["duplicate_span_merged"] == 1
    assert events["adjusted"]["encoding_fallback"] == 1
    assert events["adjusted"]["offsets_realigned"] == 1
    assert events["examples"]["adjusted:offsets_realigned"] == [
        {"file": str(bad_physionet / "id-phi.phrase"), "line": 9, "offset": 33, "detail": "shift -2"}
    ]
    assert events["info"]["overlapping_spans[phi]"] == 1
    phrase = str(bad_physionet / "id-phi.phrase")
    assert events["examples"]["skipped:malformed_line"] == [{"file": phrase, "line": 4, "detail": "4 fields"}]
    assert events["examples"]["unplaceable:offset_out_of_range"][0]["line"] == 8
    # the report never carries note text
    assert "SMITH" not in json.dumps(events) and "555-1234" not in json.dumps(events)


def test_a_phrase_line_without_its_type_never_puts_its_text_in_the_report(bad_physionet):
    phrase = bad_physionet / "id-phi.phrase"
    phrase.write_text(phrase.read_text() + "1 1 33 37 HOLLOWAY\n")  # the TYPE column is missing
    report = ConversionReport("physionet")
    list(read_physionet(bad_physionet / "id.text", phrase, report=report))
    assert report.events["unplaceable"]["unmapped_label"] == 1
    assert "HOLLOWAY" not in json.dumps(report.to_dict())


def test_a_label_map_that_is_not_json_is_named(tmp_path):
    from spacy_clintiny.converters.labels import LabelMap

    (tmp_path / "map.json").write_text('{"entities": {\n}', encoding="utf8")
    with pytest.raises(ValueError, match=r"E423.*map\.json"):
        LabelMap.from_json(tmp_path / "map.json")


def test_mixed_encoding_brat_keeps_offsets(tmp_path):
    text = "Caf\u00e9 au lait spots.\nNa\u00efve patient with r\u00e9nal failure.\n"
    raw = text.split("\n")[0].encode("utf-8") + b"\n" + text.split("\n", 1)[1].encode("cp1252")
    (tmp_path / "a.txt").write_bytes(raw)
    start = text.index("r\u00e9nal failure")
    assert start == 39
    # T2's end (19) takes in the "." its text does not have: realigned to 18, and counted
    (tmp_path / "a.ann").write_text(
        f"T1\tProblem {start} {start + 13}\tr\u00e9nal failure\nT2\tProblem 0 19\tCaf\u00e9 au lait spots\n"
    )
    report = ConversionReport("brat")
    doc = next(read_brat(tmp_path, report=report))
    assert doc.text == text  # the cp1252 line decoded, one character per accented letter
    assert _spans(doc, "entities") == [(0, 18, "Problem", "Problem"), (39, 52, "Problem", "Problem")]
    assert report.events["adjusted"]["offsets_realigned"] == 1
    assert report.examples["adjusted:offsets_realigned"][0]["detail"] == "shift 0, length 19 -> 18"
    assert report.examples["adjusted:encoding_fallback"] == [
        {"file": str(tmp_path / "a.txt"), "line": 2, "detail": "cp1252 bytes"}
    ]


def test_a_line_mixing_utf8_and_a_stray_byte_keeps_its_utf8(tmp_path):
    # "Zoë" in UTF-8 and a stray cp1252 degree sign on the same line
    (tmp_path / "a.txt").write_bytes("Zo\u00eb had 38".encode("utf-8") + b"\xb0C fever.\n")
    (tmp_path / "a.ann").write_text("T1\tProblem 13 18\tfever\nT2\tDrug 0 3\tZo\u00eb\n", encoding="utf8")
    report = ConversionReport("brat")
    doc = next(read_brat(tmp_path, report=report))
    assert doc.text == "Zo\u00eb had 38\u00b0C fever.\n"
    assert _spans(doc, "entities") == [(0, 3, "Drug", "Drug"), (13, 18, "Problem", "Problem")]
    assert report.n_unplaceable == 0 and "offsets_realigned" not in report.events["adjusted"]


def test_brat_offsets_count_a_bom_and_a_mention_may_hold_a_tab(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfTake two (2) tablets of Tylenol\textra strength.")
    text = "\ufeffTake two (2) tablets of Tylenol\textra strength."
    drug = text.index("Tylenol")
    (tmp_path / "a.ann").write_text(
        f"T1\tDosage 6 9;14 21\ttwo tablets\nT2\tDrug {drug} {drug + 22}\tTylenol\textra strength\n",
        encoding="utf8",
    )
    report = ConversionReport("brat")
    doc = next(read_brat(tmp_path, report=report, discontinuous="join"))
    spans = {(s.start_char, s.end_char): s.text for s in doc.spans["entities"]}
    assert spans[(drug, drug + 22)] == "Tylenol\textra strength"
    assert spans[(6, 21)] == "two (2) tablets"  # the fragments "two" and "tablets", joined
    assert report.n_unplaceable == 0 and "offsets_realigned" not in report.events["adjusted"]
    assert "discontinuous_text_differs" not in report.events["info"]


def test_a_repeated_brat_id_and_a_copied_document_are_reported_not_used(tmp_path):
    (tmp_path / "a.txt").write_text("Heparin 5000 units SC daily.\n", encoding="utf8")
    (tmp_path / "a.ann").write_text(
        "T1\tDrug 0 7\tHeparin\nT2\tDosage 8 18\t5000 units\nT2\tRoute 19 21\tSC\nR1\tDosage-Drug Arg1:T2 Arg2:T1\n",
        encoding="utf8",
    )
    (tmp_path / "b.txt").write_bytes((tmp_path / "a.txt").read_bytes())
    (tmp_path / "b.ann").write_bytes((tmp_path / "a.ann").read_bytes())
    report = ConversionReport("brat")
    docs = list(read_brat(tmp_path, report=report))
    assert len(docs) == 1 and report.events["skipped"]["duplicate_document"] == 1
    assert [s.text for s in docs[0].spans["entities"]] == ["Heparin", "5000 units"]
    assert report.events["unplaceable"]["duplicate_id"] == 1
    assert report.events["unplaceable"]["relation_endpoint_ambiguous"] == 1


def test_text_mismatch_and_bad_brat_lines(tmp_path):
    (tmp_path / "b.txt").write_text("No acute distress.\n")
    (tmp_path / "b.ann").write_text(
        "T1\tProblem 3 17\tacute distress\n"
        "T2\tProblem 3 8\tsomething else\n"  # text differs from the offsets
        "T3\tProblem x y\tacute\n"  # malformed
        "R1\tRel Arg1:T1 Arg2:T9\n"  # unknown endpoint
    )
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "empty.ann").write_text("")
    report = ConversionReport("brat")
    docs = list(read_brat(tmp_path, report=report))
    assert [_spans(d, "entities") for d in docs] == [[(3, 17, "Problem", "Problem")], []]  # empty file: no span
    assert docs[0].user_data["clintiny_rels"] == [] and docs[1].user_data["clintiny_rels"] == []
    assert report.events["unplaceable"] == {"text_mismatch": 1, "relation_endpoint_unknown": 1}
    assert report.events["skipped"] == {"malformed_line": 1}


def test_ade_malformed_rows_and_missing_files(tmp_path):
    (tmp_path / "DRUG-AE.rel").write_text(
        "1|Rash after penicillin.|Rash|10|14|penicillin|21|31\n"
        "2|too|few|fields\n"
        "3|Fever on drugX.|Fever|0|5|drugY|9|14\n"  # drug not in sentence
    )
    report = ConversionReport("ade")
    docs = list(read_ade(tmp_path, report=report))
    assert [d.text for d in docs] == ["Rash after penicillin.", "Fever on drugX."]
    # document-level offsets (10-14, 21-31) become sentence-level ones
    assert _spans(docs[0], "concepts") == [(0, 4, "PROBLEM", "ADVERSE_EFFECT"), (11, 21, "TREATMENT", "DRUG")]
    assert docs[0].user_data["clintiny_rels"] == [{"head": [11, 21], "tail": [0, 4], "label": "DRUG_AE"}]
    assert _spans(docs[1], "concepts") == [(0, 5, "PROBLEM", "ADVERSE_EFFECT")]  # the drug was not found
    assert docs[1].user_data["clintiny_rels"] == []
    assert report.events["skipped"] == {"malformed_line": 1, "missing_file": 2}
    assert report.events["unplaceable"] == {"not_found_in_sentence": 1, "relation_endpoint_unplaced": 1}


def test_empty_pubtator_gives_no_docs(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n")
    report = ConversionReport("pubtator")
    assert list(read_pubtator(tmp_path / "empty.txt", report=report)) == []


@pytest.fixture(scope="module")
def cli_app():
    from spacy_clintiny.cli import app

    return app


def test_cli_exit_codes(cli_app, bad_physionet, tmp_path):
    runner = CliRunner()
    inside = tmp_path / "out" / "train.spacy"  # an output inside the input folder is refused
    result = runner.invoke(cli_app, ["convert", "physionet", str(bad_physionet), str(inside), "--split-dev", "0.5"])
    assert result.exit_code == 1 and "E747" in result.output and not inside.parent.exists()
    outdir = tmp_path.with_name(tmp_path.name + "-out")
    result = runner.invoke(
        cli_app, ["convert", "physionet", str(bad_physionet), str(outdir / "train.spacy"), "--split-dev", "0.5"]
    )
    assert result.exit_code == 0, result.output
    assert "malformed_line" in result.output and "id-phi.phrase:4" in result.output
    report = json.loads((outdir / "train.report.json").read_text())
    assert report["docs"] == 2 and report["skipped"] == {"malformed_line": 1}
    assert report["split"]["train"]["docs"] + report["split"]["dev"]["docs"] == 2
    assert (outdir / "dev.spacy").exists()
    (tmp_path / "empty.txt").write_text("")
    result = runner.invoke(cli_app, ["convert", "pubtator", str(tmp_path / "empty.txt"), str(tmp_path / "e.spacy")])
    assert result.exit_code == 1 and "E409" in result.output
    assert not (tmp_path / "e.spacy").exists() and (tmp_path / "e.report.json").exists()
    result = runner.invoke(cli_app, ["convert", "nosuchformat", str(tmp_path), str(tmp_path / "x.spacy")])
    assert result.exit_code == 1 and "E406" in result.output


def test_cli_a_folder_where_a_file_is_read_is_an_error_not_a_traceback(cli_app, tmp_path):
    (tmp_path / "notes").mkdir()
    result = CliRunner().invoke(cli_app, ["convert", "pubtator", str(tmp_path / "notes"), str(tmp_path / "o.spacy")])
    assert result.exit_code == 1 and "IsADirectoryError" in result.output and "docs/corpora.md" in result.output
    assert not isinstance(result.exception, OSError)


@pytest.mark.parametrize(
    "options,code",
    [
        (["--limit", "-1"], "E421"),
        (["--n-sents", "0"], "E422"),
        (["--split-dev", "0.5", "--split-calib", "1.5"], "E408"),
    ],
)
def test_cli_out_of_range_options_are_refused_by_name(cli_app, tmp_path, options, code):
    (tmp_path / "n.conll").write_text("Aspirin\tB-Chemical\n")
    result = CliRunner().invoke(
        cli_app, ["convert", "conll", str(tmp_path / "n.conll"), str(tmp_path / "o.spacy"), *options]
    )
    assert result.exit_code == 1 and code in result.output and not (tmp_path / "o.spacy").exists()
