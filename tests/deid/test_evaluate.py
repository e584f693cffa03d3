"""De-identification evaluation: every figure checked against values computed by hand on tiny
notes (tokens of spacy.blank("en"), shown in each test's comments)."""

from pathlib import Path

import pytest
import spacy

from spacy_clintiny.deid.evaluate import (
    DeidScorer,
    GoldNote,
    check_replacements,
    entity_counts,
    leaked_tokens,
    overlaps_any,
    prf,
)
from spacy_clintiny.deid.types import DeidResult, PhiMention, Replacement


@pytest.fixture(scope="module")
def tokenizer():
    return spacy.blank("en")


def score(tokenizer, note, predicted):
    """Figures for labelled predictions, each one redacted."""
    scorer = DeidScorer(tokenizer)
    scorer.add(note, predicted, [(s, e, f"[{label}]") for s, e, label in predicted])
    return scorer.scores()


def result_for(note, output, replacements, mentions=None):
    """A DeidResult with mentions at the replacements' input spans (unless given)."""
    if mentions is None:
        mentions = [PhiMention(r.start, r.end, r.label, "rule") for r in replacements]
    return DeidResult(note.to_record(), output, mentions=mentions, replacements=replacements)


def rep(start, end, out_start, new_text, *, label="NAME", operator="redact"):
    return Replacement(start, end, out_start, out_start + len(new_text), label, "", "rule", 1.0, operator, new_text)


# "Pt John Smith seen 3/14/2021 at Mercy Hospital today."
# tokens: Pt(0) John(3) Smith(8) seen(14) 3/14/2021(19) at(29) Mercy(32) Hospital(38) today(47) .(52)
VISIT = GoldNote(
    "1-1",
    "Pt John Smith seen 3/14/2021 at Mercy Hospital today.",
    [(3, 13, "NAME"), (19, 28, "DATE"), (32, 46, "LOCATION")],
    "1",
)


def test_partial_overlaps_and_multi_token_spans(tokenizer):
    # NAME "hn" touches John only; DATE exact; LOCATION "at Mercy" touches at (not PHI) and Mercy.
    predicted = [(5, 7, "NAME"), (19, 28, "DATE"), (29, 37, "LOCATION")]
    s = score(tokenizer, VISIT, predicted)
    # gold tokens John Smith 3/14/2021 Mercy Hospital (5); predicted John 3/14/2021 at Mercy (4)
    assert (s["gold_tokens"], s["predicted_tokens"]) == (5, 4)
    assert s["token_recall"] == pytest.approx(3 / 5)
    assert s["token_precision"] == pytest.approx(3 / 4)
    assert s["token_f1"] == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    # strict: only DATE has exact offsets; overlap: every prediction meets a gold span of its label
    assert (s["strict_p"], s["strict_r"]) == (pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert (s["overlap_p"], s["overlap_r"], s["overlap_f"]) == (1.0, 1.0, 1.0)
    name = s["per_category"]["NAME"]
    assert (name["strict_f"], name["overlap_f"], name["recall"], name["token_recall"]) == (0.0, 1.0, 1.0, 0.5)
    assert s["per_category"]["DATE"]["strict_f"] == 1.0
    assert s["per_category"]["LOCATION"]["token_recall"] == 0.5
    # Smith and Hospital were not replaced, and John only in part ("Jo" survives): 3 of 5 PHI
    # tokens leak, although token recall counts John as found
    assert (s["leaked_tokens"], s["phi_tokens"]) == (3, 5)
    assert s["leak_rate"] == pytest.approx(0.6)


def test_prediction_straddling_two_gold_spans(tokenizer):
    # "Seen by Drs John Smith and Mary Jones." tokens ... John(12) Smith(17) and(23) Mary(27) Jones(32) .(37)
    note = GoldNote("1-2", "Seen by Drs John Smith and Mary Jones.", [(12, 22, "NAME"), (27, 37, "NAME")])
    s = score(tokenizer, note, [(17, 31, "NAME")])  # "Smith and Mary"
    assert s["token_recall"] == 0.5 and s["token_precision"] == pytest.approx(2 / 3)
    assert (s["strict_p"], s["strict_r"], s["strict_f"]) == (0.0, 0.0, 0.0)
    # one correct prediction finds both gold spans
    assert (s["overlap_p"], s["overlap_r"]) == (1.0, 1.0)
    assert s["per_category"]["NAME"]["recall"] == 1.0
    assert (s["gold_spans"], s["predicted_spans"]) == (2, 1)
    assert s["leaked_tokens"] == 2  # John, Jones


def test_wrong_label_counts_for_recall_not_for_entity_scores(tokenizer):
    # "Age 92 on file" tokens Age(0) 92(4) on(7) file(10)
    note = GoldNote("1-3", "Age 92 on file", [(4, 6, "AGE")])
    s = score(tokenizer, note, [(4, 6, "DATE")])
    assert s["token_recall"] == 1.0 and s["token_precision"] == 1.0
    assert s["strict_f"] == 0.0 and s["overlap_f"] == 0.0
    age, date = s["per_category"]["AGE"], s["per_category"]["DATE"]
    assert (age["recall"], age["overlap_r"], age["predicted_spans"]) == (1.0, 0.0, 0)
    assert (date["gold_spans"], date["predicted_spans"], date["overlap_p"], date["recall"]) == (0, 1, 0.0, None)


def test_empty_predictions_and_zero_gold(tokenizer):
    s = score(tokenizer, VISIT, [])
    assert s["token_recall"] == 0.0
    # nothing predicted: precision undefined, but F1 is 0 (there was gold to find), as spaCy's scorer
    assert s["token_precision"] is None and s["token_f1"] == 0.0
    assert s["leak_rate"] == 1.0 and s["per_category"]["NAME"]["recall"] == 0.0
    assert s["per_category"]["NAME"]["strict_f"] == 0.0
    clean = GoldNote("1-4", "Stable overnight.", [])
    s = score(tokenizer, clean, [(0, 6, "NAME")])
    assert s["token_precision"] == 0.0 and s["token_recall"] is None and s["token_f1"] is None
    assert s["leak_rate"] is None and s["phi_tokens"] == 0
    s = score(tokenizer, clean, [])
    assert (s["token_recall"], s["token_precision"], s["strict_f"], s["per_category"]) == (None, None, None, {})


def test_scores_add_up_over_notes(tokenizer):
    scorer = DeidScorer(tokenizer)
    scorer.add(VISIT, [(3, 13, "NAME")], [(3, 13, "[NAME]")])  # John Smith found: tp 2, fn 2 (date, Mercy, Hospital: 3)
    scorer.add(GoldNote("1-4", "Stable overnight.", []), [(0, 6, "NAME")], [(0, 6, "[NAME]")])  # fp 1
    s = scorer.scores()
    assert (s["notes"], s["words"]) == (2, 10 + 3)
    assert s["token_recall"] == pytest.approx(2 / 5) and s["token_precision"] == pytest.approx(2 / 3)
    assert s["strict_p"] == 0.5 and s["strict_r"] == pytest.approx(1 / 3)


def test_overlaps_any_and_prf():
    assert overlaps_any([(0, 2), (2, 4), (5, 9), (20, 21)], [(4, 6), (1, 2), (8, 30)]) == [True, False, True, True]
    assert overlaps_any([(0, 1)], []) == [False]
    # a long target starting early still counts for a later query
    assert overlaps_any([(50, 51)], [(0, 100), (10, 20)]) == [True]
    assert prf(1, 2, 1, 4) == {"p": 0.5, "r": 0.25, "f": pytest.approx(1 / 3)}
    assert prf(0, 0, 0, 3) == {"p": None, "r": 0.0, "f": 0.0}  # gold, nothing predicted: F1 0
    assert prf(0, 2, 0, 0) == {"p": 0.0, "r": None, "f": None}  # no gold: F1 undefined


def test_entity_counts_duplicates_and_unlabelled():
    counts = entity_counts([(0, 4, "NAME"), (0, 4, "NAME"), (10, 12, "DATE")], [(0, 4, "NAME"), (11, 15, None)])
    assert counts["NAME"] == {"gold": 1, "pred": 1, "strict": 1, "overlap_pred": 1, "overlap_gold": 1, "touched": 1}
    assert counts["DATE"]["touched"] == 1 and counts["DATE"]["pred"] == 0


# "John Smith seen 3/14/2021." tokens John(0) Smith(5) seen(11) 3/14/2021(16) .(25)
SEEN = GoldNote("2-1", "John Smith seen 3/14/2021.", [(0, 10, "NAME"), (16, 25, "DATE")], "2")


def run(tokenizer, note, result):
    scorer = DeidScorer(tokenizer)
    scorer.add_result(note, result)
    return scorer.scores()


def test_leak_redact(tokenizer):
    full = [rep(0, 10, 0, "[NAME]"), rep(16, 25, 12, "[DATE]", label="DATE")]
    s = run(tokenizer, SEEN, result_for(SEEN, "[NAME] seen [DATE].", full))
    assert (s["leaked_tokens"], s["phi_tokens"], s["leak_rate"]) == (0, 3, 0.0)
    partial = [rep(0, 4, 0, "[NAME]"), rep(16, 25, 18, "[DATE]", label="DATE")]
    s = run(tokenizer, SEEN, result_for(SEEN, "[NAME] Smith seen [DATE].", partial))
    assert s["leak_rate"] == pytest.approx(1 / 3) and s["token_recall"] == pytest.approx(2 / 3)
    assert s["per_category"]["NAME"]["leak_rate"] == 0.5 and s["per_category"]["DATE"]["leak_rate"] == 0.0


def test_a_tag_or_code_holding_the_original_by_chance_is_no_leak(tokenizer):
    # "CA" redacted as [LOCATION], "45" hashed to a code holding "45": replaced, nothing shown
    note = GoldNote("3-1", "Lives in CA, age 45.", [(9, 11, "LOCATION"), (17, 19, "AGE")])
    out = (
        "Lives in [LOCATION], age [AGE-4512ab].",
        [
            rep(9, 11, 9, "[LOCATION]", label="LOCATION"),
            rep(17, 19, 25, "[AGE-4512ab]", label="AGE", operator="hash"),
        ],
    )
    s = run(tokenizer, note, result_for(note, *out))
    assert (s["leaked_tokens"], s["phi_tokens"]) == (0, 2)


def test_whitespace_inside_a_span_is_not_a_phi_token(tokenizer):
    note = GoldNote("3-2", "Zorbin\nQuaffle seen.", [(0, 14, "NAME")])
    s = run(
        tokenizer, note, result_for(note, "[NAME]\n[NAME] seen.", [rep(0, 6, 0, "[NAME]"), rep(7, 14, 7, "[NAME]")])
    )
    assert (s["token_recall"], s["gold_tokens"], s["phi_tokens"]) == (1.0, 2, 2)


def test_leak_mask(tokenizer):
    masked = [rep(5, 10, 5, "*****", operator="mask"), rep(16, 25, 16, "*********", label="DATE", operator="mask")]
    s = run(tokenizer, SEEN, result_for(SEEN, "John ***** seen *********.", masked))
    assert (s["leaked_tokens"], s["phi_tokens"]) == (1, 3)  # John


def test_leak_annotate_everything_leaks(tokenizer):
    kept = [rep(0, 10, 0, "John Smith", operator="keep"), rep(16, 25, 16, "3/14/2021", label="DATE", operator="keep")]
    s = run(tokenizer, SEEN, result_for(SEEN, SEEN.text, kept))
    assert s["token_recall"] == 1.0 and s["leak_rate"] == 1.0


def test_leak_surrogate_containing_the_original(tokenizer):
    # "Bob Smithers" contains "smith" (case-insensitive): Smith leaks, John does not; the shifted date does not
    out = "Bob Smithers seen 3/21/2021."
    surrogates = [
        rep(0, 10, 0, "Bob Smithers", operator="surrogate"),
        rep(16, 25, 18, "3/21/2021", label="DATE", operator="date_shift"),
    ]
    s = run(tokenizer, SEEN, result_for(SEEN, out, surrogates))
    assert (s["leaked_tokens"], s["phi_tokens"]) == (1, 3)
    # a one-letter original kept by chance is not counted (below 2 characters)
    initial = GoldNote("2-2", "Pt J seen.", [(3, 4, "NAME")])
    s = run(tokenizer, initial, result_for(initial, "Pt J seen.", [rep(3, 4, 3, "J", operator="surrogate")]))
    assert (s["leaked_tokens"], s["phi_tokens"]) == (0, 1)


def test_leak_counts_only_the_phi_characters_of_a_token(tokenizer):
    # "MRN12345 today": one token MRN12345; only "12345" is PHI and it is replaced
    note = GoldNote("2-3", "MRN12345 today", [(3, 8, "ID")])
    doc = tokenizer.make_doc(note.text)
    assert leaked_tokens(doc, [(3, 8)], [(3, 8, "[ID]")]) == {0: False}
    assert leaked_tokens(doc, [(3, 8)], [(3, 7, "[ID]")]) == {0: True}  # the last digit survives
    # whitespace tokens inside a gold span are counted by token recall but cannot leak
    spaced = tokenizer.make_doc("John  Smith")
    assert [t.text for t in spaced] == ["John", " ", "Smith"]
    assert leaked_tokens(spaced, [(0, 11)], []) == {0: True, 2: True}


def test_failed_note_counts_as_missed_and_leaked(tokenizer):
    failed = DeidResult(SEEN.to_record(), None, error="(spacy-clintiny) [E746] failed")
    s = run(tokenizer, SEEN, failed)
    assert (s["failed_notes"], s["token_recall"], s["leak_rate"]) == (1, 0.0, 1.0)


def test_inconsistent_replacements_are_rejected():
    redacted = "[NAME] seen [DATE]."
    with pytest.raises(ValueError, match="E771"):  # output offset off by one
        check_replacements("2-1", SEEN.text, redacted, [rep(0, 10, 0, "[NAME]"), rep(16, 25, 13, "[DATE]")])
    with pytest.raises(ValueError, match="E771"):  # unreplaced text changed
        check_replacements("2-1", SEEN.text, redacted.upper(), [rep(0, 10, 0, "[NAME]"), rep(16, 25, 12, "[DATE]")])
    with pytest.raises(ValueError, match="E771"):  # overlapping replacements
        check_replacements("2-1", SEEN.text, "[NAME][X] seen", [rep(0, 10, 0, "[NAME]"), rep(5, 12, 6, "[X]")])
    check_replacements("2-1", SEEN.text, redacted, [rep(16, 25, 12, "[DATE]"), rep(0, 10, 0, "[NAME]")])


def test_unlabelled_detections_score_tokens_only(tokenizer):
    scorer = DeidScorer(tokenizer)
    scorer.add_spans(VISIT, [(3, 13), (19, 21)])  # John Smith, and "3/" inside the date token
    s = scorer.scores()
    assert s["token_recall"] == pytest.approx(3 / 5) and s["token_precision"] == 1.0
    assert s["strict_f"] is None and s["overlap_p"] is None
    assert s["per_category"]["DATE"]["recall"] == 1.0 and s["per_category"]["NAME"]["predicted_spans"] is None
    # the date token is only partly covered: it leaks, as do Mercy and Hospital
    assert s["leaked_tokens"] == 3


def test_print_systems_table_with_category_recall(tokenizer, capsys):
    from spacy_clintiny.cli.deid_eval import print_systems

    found = DeidScorer(tokenizer)
    found.add_spans(VISIT, [(3, 13), (19, 21)])
    nothing = DeidScorer(tokenizer)
    nothing.add_spans(VISIT, [])
    results = {"found": dict(found.scores(), notes_per_s=12.34), "nothing": dict(nothing.scores(), notes_per_s=None)}
    print_systems(results, categories=True)
    lines = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip()]
    header, rows = lines[0], {line[0]: line[1:] for line in lines[2:]}
    assert header[:7] == ["system", "token", "R", "token", "P", "token", "F1"]
    labels = header[header.index("failed") + 2 :: 2]  # "R NAME", "R DATE", ...
    assert sorted(labels) == ["DATE", "LOCATION", "NAME"]
    assert rows["found"][:6] == ["0.600", "1.000", "0.750", "0.600", "12.3", "0"]  # R, P, F1, leak, notes/s, failed
    assert dict(zip(labels, rows["found"][6:])) == {"NAME": "1.00", "LOCATION": "0.00", "DATE": "1.00"}
    assert rows["nothing"][:6] == ["0.000", "-", "0.000", "1.000", "-", "0"]  # no detections: no precision, F1 0


# ---- the command end to end (rules only: structured identifiers are found, names are not)


def write_docbin(path):
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    db = DocBin(store_user_data=True)
    # tokens: Call 617 - 555 - 1234 on 3/14/2021 . | Seen by John Smith today . BP stable .
    for doc_id, text, spans in (
        ("n1", "Call 617-555-1234 on 3/14/2021.", [(5, 17, "CONTACT"), (21, 30, "DATE")]),
        ("n2", "Seen by John Smith today. BP stable.", [(8, 18, "NAME")]),
    ):
        doc = nlp.make_doc(text)
        doc.spans["phi"] = [doc.char_span(s, e, label=label) for s, e, label in spans]
        doc.user_data["clintiny_source"] = {"doc_id": doc_id, "group": "p1"}
        db.add(doc)
    db.to_disk(path)
    return path


def run_cli(*args):
    import json

    from typer.testing import CliRunner

    from spacy_clintiny.cli import app

    out = CliRunner().invoke(app, ["deid-eval", *map(str, args)])
    assert out.exit_code == 0, out.output
    return json.loads(out.output.strip().splitlines()[-1]), out.output


def test_cli_docbin_rules_redact_and_annotate(tmp_path):
    path = write_docbin(tmp_path / "gold.spacy")
    result, output = run_cli(
        "docbin", path, "--model", "rules", "--profile", "precision", "--json-out", tmp_path / "out.json"
    )
    # gold tokens 617 - 555 - 1234 3/14/2021 John Smith (8); the precision rules find the phone and the date exactly
    assert (result["notes"], result["words"], result["gold_tokens"], result["predicted_tokens"]) == (2, 18, 8, 6)
    assert (result["token_recall"], result["token_precision"]) == (0.75, 1.0)
    assert result["token_f1"] == pytest.approx(2 * 0.75 / 1.75)
    assert result["leak_rate"] == 0.25  # John, Smith
    assert (result["strict_p"], result["strict_f"]) == (1.0, pytest.approx(0.8))
    assert {k: v["recall"] for k, v in result["per_category"].items()} == {"NAME": 0.0, "DATE": 1.0, "CONTACT": 1.0}
    assert result["notes_per_s"] > 0 and result["words_per_s"] > 0
    # figures and ids only: no note text (the phone is checked whole, as "617" alone can occur in a speed figure)
    assert not any(phi in output for phi in ("John", "Smith", "617-555-1234", "3/14/2021"))
    import json

    assert json.loads((tmp_path / "out.json").read_text()) == result
    annotated, _ = run_cli("docbin", path, "--rules-only", "--profile", "precision", "--mode", "annotate")
    assert (annotated["token_recall"], annotated["leak_rate"]) == (0.75, 1.0)


def test_cli_rejects_bad_options(tmp_path):
    from typer.testing import CliRunner

    from spacy_clintiny.cli import app

    path = write_docbin(tmp_path / "gold.spacy")
    for args, code in (
        (["docbin", path, "--no-rules", "--rules-only"], "E776"),
        (["docbin", path, "--patients", "train", "--model", "rules"], "E773"),
        (["docbin", path, "--mode", "shred", "--model", "rules"], "E777"),
        (["xml", path, "--model", "rules"], "E772"),
        (["docbin", tmp_path / "missing.spacy", "--model", "rules"], "E774"),
        (["docbin", path, "--model", "rules", "--dictionary-gate", "1.5"], "E894"),
        (["docbin", path, "--model", "rules", "--profile", "loose"], "E713"),
        (["docbin", path, "--model", "rules", "--outside-weight", "0.3"], "E763"),
    ):
        out = CliRunner().invoke(app, ["deid-eval", *map(str, args)])
        assert out.exit_code == 1 and code in out.output, (args, out.output)


def test_cli_reports_gold_it_could_not_place_and_fails_when_notes_fail(tmp_path):
    import json
    import shutil

    from typer.testing import CliRunner

    from spacy_clintiny.cli import app

    folder = tmp_path / "i2b2"
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "i2b2-2014", folder)
    xml = folder / "110-01.xml"
    xml.write_text(xml.read_text(encoding="utf8").replace('text="Xavier Oakes"', 'text="Xaver Okes"'), encoding="utf8")
    out = CliRunner().invoke(app, ["deid-eval", "i2b2-2014", str(folder), "--model", "rules"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output.strip().splitlines()[-1])
    assert result["gold_not_read"]["unplaceable"] == {"text_mismatch": 1}
    assert "could not place" in out.output and "Xav" not in out.output  # where, never the text
    negative = CliRunner().invoke(app, ["deid-eval", "i2b2-2014", str(folder), "--model", "rules", "--limit", "-1"])
    assert negative.exit_code == 2
    failing = tmp_path / "failing.py"
    failing.write_text("def boom(text, **_):\n    raise RuntimeError('no')\n", encoding="utf8")
    out = CliRunner().invoke(
        app,
        ["deid-eval", "i2b2-2014", str(folder), "--model", "rules", "--mode", "custom", "--custom", f"{failing}:boom"],
    )
    assert out.exit_code == 1 and json.loads(out.output.strip().splitlines()[-1])["failed_notes"] == 3


def test_heldout_patients_are_the_workflow_split():
    from spacy_clintiny.cli.deid_eval import select_patients
    from spacy_clintiny.converters.splits import dev_groups

    ids = [str(i) for i in range(3, 163, 3)]  # 54 patients, as in PhysioNet
    heldout, train = select_patients(ids, "heldout"), select_patients(ids, "train")
    assert heldout == dev_groups(ids, dev_fraction=0.334, seed=0) and len(heldout) == 18
    assert heldout | train == set(ids) == select_patients(ids, "all") and not heldout & train
    with pytest.raises(ValueError, match="E773"):
        select_patients(ids, "dev")


def test_cli_physionet_heldout_with_deid_pl_baseline():
    from helpers import require_shared_data

    folder = require_shared_data("physionet-deid")
    result, output = run_cli(
        "physionet",
        folder,
        "--model",
        "rules",
        "--limit",
        "5",
        "--baseline-deid-pl",
        folder / "deid-pl-output" / "id.phi",
    )
    # the first held-out notes are patient 3's; deid.pl is scored on the same 5 notes
    assert (result["patients"], result["patient_ids"], result["patients_in_set"], result["notes"]) == (
        "heldout",
        ["3"],
        18,
        5,
    )
    baseline = result["baselines"]["deid.pl"]
    assert baseline["notes"] == 5 and baseline["gold_tokens"] == result["gold_tokens"]
    assert baseline["strict_f"] is None and baseline["notes_per_s"] is None
    assert "deid.pl" in output


@pytest.mark.parametrize("mode", ["hash", "encrypt", "remove", "custom"])
def test_leak_pseudonym_remove_and_custom_modes_replace(tokenizer, mode):
    # the operators' own output, scored: every PHI token replaced, nothing leaks
    from spacy_clintiny.deid.operators import apply_operator, mode_operator

    mentions = [PhiMention(0, 10, "NAME", "rule"), PhiMention(16, 25, "DATE", "rule")]
    if mode == "custom":
        generator = mode_operator(mode, custom=lambda text, **_: "something else")
    else:
        generator = mode_operator(mode, "a key of sixteen characters or more")
    output, reps = apply_operator(SEEN.text, mentions, mode=mode, generator=generator)
    s = run(tokenizer, SEEN, result_for(SEEN, output, reps, mentions))
    assert (s["leaked_tokens"], s["phi_tokens"], s["token_recall"]) == (0, 3, 1.0)
