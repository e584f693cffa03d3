"""The spaCy CNN NER baseline (evaluation.cnn_baseline) and the span scoring it shares with the
clintiny heads (components.ner.score_span_group): hand-counted P/R/F under partial annotation,
a tiny CNN that learns an obvious pattern and is scored per corpus, the CLI, the errors, and
the report's concept rows."""

import json

import pytest
import spacy
from spacy.tokens import DocBin, Span
from spacy.training import Example

from spacy_clintiny.cli.baselines import baselines as baselines_cmd
from spacy_clintiny.cli.baselines import train_cnn_cli
from spacy_clintiny.components.ner import score_span_group
from spacy_clintiny.converters.labels import ANNOTATED_LABELS
from spacy_clintiny.evaluation.baselines import PHI_TASK, read_baselines
from spacy_clintiny.evaluation.cnn_baseline import (
    CNN_SYSTEM,
    TRAINING_FILE,
    cnn_baseline,
    group_labels,
    train_cnn_baseline,
)
from spacy_clintiny.evaluation.report import baseline_comparison, markdown_report

NAMES = ["Quimbleton", "Kowalczyk", "Ardenfell", "Brackwater", "Thistlewood", "Marrowby"]
DRUGS = ["aspirin", "heparin", "warfarin", "insulin", "metformin", "lisinopril"]
DISEASES = ["pneumonia", "sepsis", "anemia", "asthma", "gout", "colitis"]


def _spans(doc, text, items):
    return [doc.char_span(text.index(s), text.index(s) + len(s), label=label) for s, label in items]


def _note(nlp, i):
    """A synthetic note: one NAME (PHI), one TREATMENT and one PROBLEM (concepts)."""
    name, drug, disease = NAMES[i % 6], DRUGS[(i + 1) % 6], DISEASES[(i + 2) % 6]
    text = f"Mr {name} was given {drug} for {disease} today ."
    doc = nlp.make_doc(text)
    doc.spans["phi"] = _spans(doc, text, [(name, "NAME")])
    doc.spans["concepts"] = _spans(doc, text, [(drug, "TREATMENT"), (disease, "PROBLEM")])
    return doc


def _abstract(nlp, i):
    """An NCBI-like sentence: diseases annotated, the drug not (the corpus annotates PROBLEM only)."""
    drug, disease = DRUGS[i % 6], DISEASES[(i + 3) % 6]
    text = f"Patients with {disease} improved on {drug} ."
    doc = nlp.make_doc(text)
    doc.spans["concepts"] = _spans(doc, text, [(disease, "PROBLEM")])
    doc.spans["concepts"].attrs[ANNOTATED_LABELS] = ["PROBLEM"]
    return doc


def _write(path, docs):
    path.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=docs, store_user_data=True).to_disk(path)


@pytest.fixture
def corpus_dir(tmp_path, nlp):
    root = tmp_path / "corpus"
    _write(root / "synth" / "train.spacy", [_note(nlp, i) for i in range(60)])
    _write(root / "synth" / "dev.spacy", [_note(nlp, i) for i in range(60, 66)])
    _write(root / "ncbi" / "train.spacy", [_abstract(nlp, i) for i in range(40)])
    _write(root / "ncbi" / "dev.spacy", [_abstract(nlp, i) for i in range(40, 52)])
    _write(root / "physionet" / "train.spacy", [_note(nlp, i) for i in range(66, 90)])
    _write(root / "physionet" / "dev.spacy", [_note(nlp, i) for i in range(90, 96)])
    return root


def test_score_span_group_scores_a_partial_corpus_on_its_labels_only(nlp):
    text = "Patients with sepsis improved on heparin and gout ."
    gold = nlp.make_doc(text)
    gold.spans["concepts"] = _spans(gold, text, [("sepsis", "PROBLEM"), ("gout", "PROBLEM")])
    pred = nlp.make_doc(text)
    # right: sepsis; wrong label set: heparin (TREATMENT, not annotated here); false: "improved"
    pred.spans["concepts"] = _spans(pred, text, [("sepsis", "PROBLEM"), ("heparin", "TREATMENT")])
    pred.spans["concepts"].append(Span(pred, 3, 4, label="PROBLEM"))
    partial = Example(pred, gold.copy())
    partial.reference.spans["concepts"].attrs[ANNOTATED_LABELS] = ["PROBLEM"]
    labels = ["PROBLEM", "TEST", "TREATMENT"]
    scores = score_span_group([partial], "concepts", labels)
    # 1 right of 2 predicted PROBLEM spans, 1 of 2 gold found; heparin neither right nor wrong
    assert scores["spans_concepts_p"] == pytest.approx(0.5)
    assert scores["spans_concepts_r"] == pytest.approx(0.5)
    assert scores["spans_concepts_f"] == pytest.approx(0.5)
    # without the declaration every label counts: heparin becomes a false positive
    full = score_span_group([Example(pred, gold)], "concepts", labels)
    assert full["spans_concepts_p"] == pytest.approx(1 / 3)
    assert full["spans_concepts_r"] == pytest.approx(0.5)


def test_cnn_baseline_learns_and_is_scored_per_corpus(corpus_dir, tmp_path):
    out = tmp_path / "cnn"
    info = train_cnn_baseline(corpus_dir, out, max_steps=60, seed=0)
    assert info["max_steps"] == 60 and info["train_docs"] == 124
    assert info["corpora"] == ["synth", "ncbi", "physionet"]
    recorded = json.loads((out / TRAINING_FILE).read_text())
    assert recorded["max_steps"] == 60
    assert recorded["labels"] == {"concepts": ["PROBLEM", "TREATMENT"], "phi": ["NAME"]}
    assert (out / "model-last" / "meta.json").exists()
    # it trains the steps it says: no early stop (spaCy's default patience would end a run with
    # one evaluation 1,600 steps after it), no epoch limit
    config = spacy.util.load_config(out / "config.cfg")
    assert config["training"]["max_steps"] == 60
    assert config["training"]["patience"] == 0 and config["training"]["max_epochs"] == 0
    assert group_labels(corpus_dir) == {"concepts": ["PROBLEM", "TREATMENT"], "phi": ["NAME"]}
    result = cnn_baseline(out / "model-last", corpus_dir, phi_docs=corpus_dir / "physionet" / "dev.spacy")
    assert sorted(result) == ["concepts_ncbi", PHI_TASK]
    ncbi, phi = result["concepts_ncbi"], result[PHI_TASK]
    assert ncbi["dev_docs"] == 12 and phi["dev_docs"] == 6 and phi["gold_tokens"] == 6
    assert ncbi["params"] == {"steps": 60, "minutes": info["minutes"]}
    # the pattern is obvious: the CNN learns it (a CNN that learnt nothing scores 0)
    assert ncbi["f"] > 0.8
    assert phi["token_recall"] > 0.8 and phi["token_precision"] > 0.8
    assert ncbi["words_per_s"] > 0 and phi["system"] == CNN_SYSTEM


def test_cli_trains_and_the_baselines_file_holds_the_cnn(corpus_dir, tmp_path, capsys):
    out = tmp_path / "cnn"
    train_cnn_cli(corpus_dir, out, max_steps=4, seed=0)
    assert (out / "model-last").is_dir()
    written = baselines_cmd(corpus_dir, tmp_path / "baselines.json", cnn=out / "model-last")
    data = read_baselines(tmp_path / "baselines.json")
    assert data == json.loads(json.dumps(written))
    assert set(data["tasks"]["concepts_ncbi"]) == {CNN_SYSTEM}
    assert set(data["tasks"][PHI_TASK]) == {CNN_SYSTEM}
    assert "Quimbleton" not in capsys.readouterr().out  # figures only, never note text


def test_cnn_errors_name_the_problem(corpus_dir, tmp_path, nlp):
    with pytest.raises(ValueError, match=r"E799.*max_steps = 0"):
        train_cnn_baseline(corpus_dir, tmp_path / "cnn", max_steps=0)
    with pytest.raises(ValueError, match=r"E799.*no training split of synth"):
        train_cnn_baseline(tmp_path / "empty", tmp_path / "cnn", max_steps=5, corpora=("synth",))
    clash = nlp.make_doc("Seen at Mercy today .")
    clash.spans["phi"] = [Span(clash, 2, 3, label="PLACE")]
    clash.spans["concepts"] = [Span(clash, 3, 4, label="PLACE")]
    _write(tmp_path / "clash" / "synth" / "train.spacy", [clash])
    with pytest.raises(ValueError, match=r"E798.*PLACE"):
        group_labels(tmp_path / "clash")
    with pytest.raises(ValueError, match=r"E798.*PLACE"):  # before any training
        train_cnn_baseline(tmp_path / "clash", tmp_path / "cnn-clash", max_steps=5)
    assert not (tmp_path / "cnn-clash" / "model-last").exists()


def test_report_compares_concepts_per_corpus_with_the_cnn():
    cnn = {"name": "spaCy CNN NER", "words_per_s": 45_000.0, "params": {"steps": 2000, "minutes": 5.04}}
    metrics = {
        "dev_docs": {"ncbi": 93, "physionet": 215},
        "student": {
            "params": 1,
            "encoder_mb": 1.0,
            "words_per_s": 5000.0,
            "tasks": {"concepts": {"kind": "ner", "main": 0.82}},
            "tasks_by_corpus": {"ncbi": {"concepts": 0.75}},
            "phi_tokens": {"token_recall": 0.78, "token_precision": 0.83},
        },
        "baselines": {
            "version": 1,
            "tasks": {
                "concepts_ncbi": {CNN_SYSTEM: dict(cnn, f=0.62, dev_docs=93)},
                PHI_TASK: {CNN_SYSTEM: dict(cnn, token_recall=0.40, token_precision=0.55, dev_docs=215)},
            },
        },
    }
    by_task = {t["task"]: t for t in baseline_comparison(metrics)}
    (fig,) = by_task["concepts_ncbi"]["figures"]
    assert fig["values"] == {"student": 0.75, CNN_SYSTEM: 0.62}
    assert fig["student_minus_best_baseline"] == pytest.approx(0.13)
    report = markdown_report(metrics)
    assert "### Concepts, NCBI-disease (PROBLEM)" in report
    assert "| spaCy CNN NER, 2,000 steps, 5.0 min | 62.0 | 45,000 |" in report
    assert "- strict F1: **student** wins by 13.0 points over spaCy CNN NER" in report
    assert "- 93 dev docs of ncbi" in report
