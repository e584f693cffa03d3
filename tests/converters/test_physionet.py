from collections import Counter

import pytest

from spacy_clintiny.converters.labels import PHYSIONET_PHI
from spacy_clintiny.converters.splits import group_of, split_docs


def _phrases(data_path):
    rows = []
    for line in data_path("physionet-deid", "id-phi.phrase").read_text().splitlines():
        pid, note, start, end, phi_type, text = line.split(" ", 5)
        rows.append((f"{pid}-{note}", int(start), int(end), phi_type, text))
    return rows


def test_physionet_reproduces_known_counts(physionet_docs, data):
    docs, report = physionet_docs
    assert len(docs) == 810
    assert sum(len(doc.spans["phi"]) for doc in docs) == 536
    expected = Counter(PHYSIONET_PHI[row[3]][0] for row in _phrases(data))
    assert report.spans["phi"] == expected
    assert report.n_unplaceable == 0


def test_physionet_spans_equal_the_phrase_file(physionet_docs, data):
    """Every PHI span at the phrase file's offsets (whitespace at its ends trimmed), with its
    category and subtype, and nothing else; the two trimmed spans are the only correction."""
    docs, report = physionet_docs
    texts = {doc.user_data["clintiny_source"]["doc_id"]: doc.text for doc in docs}
    expected = {}
    for doc_id, start, end, phi_type, text in _phrases(data):
        raw = texts[doc_id][start:end]
        assert " ".join(raw.split()) == " ".join(text.split())
        start, end = start + len(raw) - len(raw.lstrip()), end - (len(raw) - len(raw.rstrip()))
        expected.setdefault(doc_id, set()).add((start, end, *PHYSIONET_PHI[phi_type]))
    for doc in docs:
        got = {(s.start_char, s.end_char, s.label_, s.kb_id_) for s in doc.spans["phi"]}
        assert got == expected.get(doc.user_data["clintiny_source"]["doc_id"], set())
    assert report.events["adjusted"]["whitespace_trimmed"] == 2
    assert "offsets_realigned" not in report.events["adjusted"]
    assert "mention_whitespace_differs" not in report.events["adjusted"]


def test_physionet_split_by_patient_is_deterministic(physionet_docs):
    docs, _ = physionet_docs
    train, dev, summary = split_docs(docs, dev_fraction=0.2, seed=0)
    assert not {group_of(d) for d in train} & {group_of(d) for d in dev}
    assert len(train) + len(dev) == 810 and summary["dev"]["docs"] == len(dev)
    again = split_docs(docs, dev_fraction=0.2, seed=0)[2]
    assert again["dev_groups"] == summary["dev_groups"]
    assert split_docs(docs, dev_fraction=0.2, seed=1)[2]["dev_groups"] != summary["dev_groups"]


def test_a_calibration_side_comes_out_of_train_and_leaves_dev_alone(physionet_docs, tmp_path):
    docs, _ = physionet_docs
    train, dev, summary = split_docs(docs, dev_fraction=0.334, seed=0, calib_fraction=0.1)
    calib = summary.pop("calib_docs")
    sides = [{group_of(d) for d in side} for side in (train, dev, calib)]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    assert len(train) + len(dev) + len(calib) == 810
    assert summary["dev_groups"] == split_docs(docs, dev_fraction=0.334, seed=0)[2]["dev_groups"]  # same held-out
    assert len(sides[1]) == 18 and len(sides[2]) == 5  # round(0.434 * 54) = 23 groups, 18 of them dev
    assert summary["calib"]["docs"] == len(calib) and summary["calib_groups"] == sorted(sides[2])


def test_calibration_split_through_the_cli(data, tmp_path):
    from typer.testing import CliRunner

    from spacy_clintiny.cli import app

    out = tmp_path / "train.spacy"
    args = [
        "convert",
        "physionet",
        str(data("physionet-deid")),
        str(out),
        "--split-dev",
        "0.334",
        "--split-calib",
        "0.1",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "calib.spacy").exists() and (tmp_path / "dev.spacy").exists()
    assert "calib" in result.output
    bad = CliRunner().invoke(
        app, ["convert", "physionet", str(data("physionet-deid")), str(out), "--split-calib", "0.1"]
    )
    assert bad.exit_code == 1 and "E420" in bad.output


def test_deid_pl_output_reproduces_known_counts(data):
    from spacy_clintiny.converters.physionet import iter_physionet, read_deid_pl_output

    found = read_deid_pl_output(data("physionet-deid", "deid-pl-output", "id.phi"))
    # 810 note headers, 645 detection lines, 54 patients: the same notes as id.text
    assert len(found) == 810 and sum(len(spans) for spans in found.values()) == 645
    assert len({pid for pid, _ in found}) == 54
    assert found[("3", "1")] == [] and found[("3", "2")] == [(156, 162), (241, 244), (302, 306), (637, 641)]
    notes = {
        tuple(src.doc_id.split("-")): src
        for src in iter_physionet(data("physionet-deid", "id.text"), data("physionet-deid", "id-phi.phrase"))
    }
    assert set(found) == set(notes)
    # deid.pl's offsets index the record body, like the gold: it covers gold "9/2/92" of patient 3 note 2
    text = notes[("3", "2")].text
    assert text[156:162] == "9/2/92"
    gold = {(s.start, s.end) for s in notes[("3", "2")].spans}
    assert (156, 162) in gold and (241, 244) in gold
    assert all(0 <= start < end <= len(notes[key].text) for key, spans in found.items() for start, end in spans)


def test_deid_pl_output_rejects_malformed_lines(tmp_path):
    from spacy_clintiny.converters.physionet import read_deid_pl_output

    path = tmp_path / "id.phi"
    path.write_text("Patient 3\tNote 1\n\nPatient 3\tNote 2\n5\t5\t9\n12\t12\t20\n")
    assert read_deid_pl_output(path) == {("3", "1"): [], ("3", "2"): [(5, 9), (12, 20)]}
    for bad, line in (
        ("5\t5\t9\n", 1),
        ("Patient 3\tNote 1\n5\t5\n", 2),
        ("Patient 3\tNote 1\n5\t9\t9\n", 2),
        ("Patient 3\tNote 1\nJOHN 5 9\n", 2),
    ):
        path.write_text(bad)
        with pytest.raises(ValueError, match=rf"E770.* line {line}:"):
            read_deid_pl_output(path)
