"""The teacher's scores computed before the evaluate step (``clintiny evaluate-scores``, the
workflow's ``score-teacher`` in a lane) and read by ``clintiny evaluate --teacher-scores``: the
same scores as computing them there, refused when made on other dev docs."""

import json

import pytest
import spacy
from spacy.tokens import DocBin

from helpers import add_tiny_encoder, span_examples
from spacy_clintiny.evaluation import evaluate_pipelines, read_eval_sets, read_scores, score_file, score_pipeline

DOCS = [
    ("Aspirin caused a rash.", [(0, 7, "TREATMENT"), (17, 21, "PROBLEM")]),
    ("Ibuprofen led to nausea.", [(0, 9, "TREATMENT"), (17, 23, "PROBLEM")]),
    ("Heparin gave him bleeding.", [(0, 7, "TREATMENT"), (17, 25, "PROBLEM")]),
]


@pytest.fixture(scope="module")
def pipeline_and_corpus(tiny_encoder, tmp_path_factory):
    root = tmp_path_factory.mktemp("teacher_scores")
    nlp = spacy.blank("en")
    add_tiny_encoder(nlp, tiny_encoder)
    nlp.add_pipe("clintiny_ner", name="ner_concepts", config={"spans_key": "concepts"})
    examples = span_examples(nlp, DOCS, "concepts")
    nlp.initialize(lambda: examples)
    nlp.to_disk(root / "pipeline")
    (root / "corpus" / "bc5cdr").mkdir(parents=True)
    DocBin(docs=[eg.reference for eg in examples], store_user_data=True).to_disk(
        root / "corpus" / "bc5cdr" / "dev.spacy"
    )
    return root / "pipeline", root / "corpus"


def test_a_scores_file_holds_what_score_pipeline_computes(pipeline_and_corpus, tmp_path):
    model, corpus = pipeline_and_corpus
    written = score_file(model, corpus, tmp_path / "scores.json", threads=1)
    on_disk = json.loads((tmp_path / "scores.json").read_text(encoding="utf8"))
    assert on_disk == json.loads(json.dumps(written))
    assert on_disk["dev_docs"] == {"bc5cdr": 3} and on_disk["model"] == str(model)
    direct = score_pipeline(spacy.load(model), read_eval_sets(corpus))
    assert on_disk["tasks"] == json.loads(json.dumps(direct["tasks"]))
    assert "concepts" in on_disk["tasks"]


def test_evaluate_reads_the_teacher_scores_and_only_times_the_teacher(pipeline_and_corpus, tmp_path):
    model, corpus = pipeline_and_corpus
    scores = score_file(model, corpus, tmp_path / "scores.json", threads=1)
    # a figure no pipeline computes: proves the teacher's scores come from the file
    scores["tasks"]["concepts"]["main"] = 0.4242
    (tmp_path / "scores.json").write_text(json.dumps(scores), encoding="utf8")
    metrics = evaluate_pipelines(
        model,
        corpus,
        tmp_path / "out",
        teacher=model,
        teacher_scores=tmp_path / "scores.json",
        speed_docs=3,
        threads=1,
    )
    assert metrics["teacher"]["tasks"]["concepts"]["main"] == 0.4242
    assert metrics["student"]["tasks"]["concepts"]["main"] != 0.4242
    assert metrics["teacher"]["words_per_s"] > 0 and metrics["teacher"]["params"] == metrics["student"]["params"]
    assert "concepts" in metrics["kept"]


def test_scores_made_on_other_dev_docs_are_refused(pipeline_and_corpus, tmp_path):
    model, corpus = pipeline_and_corpus
    score_file(model, corpus, tmp_path / "scores.json", limit=2, threads=1)
    with pytest.raises(ValueError, match=r"E906.*'bc5cdr': 2.*'bc5cdr': 3"):
        read_scores(tmp_path / "scores.json", read_eval_sets(corpus))
    # checked before the student is loaded (its path does not exist)
    with pytest.raises(ValueError, match=r"E906"):
        evaluate_pipelines(
            tmp_path / "no-student", corpus, tmp_path / "out", teacher=model, teacher_scores=tmp_path / "scores.json"
        )
    (tmp_path / "not-scores.json").write_text("[1, 2]", encoding="utf8")
    with pytest.raises(ValueError, match=r"E906"):
        read_scores(tmp_path / "not-scores.json", read_eval_sets(corpus))


def test_teacher_scores_without_a_teacher_are_refused(pipeline_and_corpus, tmp_path):
    _, corpus = pipeline_and_corpus
    (tmp_path / "scores.json").write_text("{}", encoding="utf8")
    with pytest.raises(ValueError, match=r"E907.*--teacher"):
        evaluate_pipelines(tmp_path / "no-student", corpus, tmp_path / "out", teacher_scores=tmp_path / "scores.json")


def test_a_corpus_folder_without_dev_splits_is_refused_not_reported_empty(tmp_path):
    (tmp_path / "synth").mkdir()
    (tmp_path / "synth" / "train.spacy").write_bytes(b"")
    with pytest.raises(ValueError, match="E918"):
        score_file(tmp_path / "no-model", tmp_path, tmp_path / "scores.json", threads=1)
    with pytest.raises(ValueError, match="E918"):
        evaluate_pipelines(tmp_path / "no-student", tmp_path, tmp_path / "out", threads=1)
    assert not (tmp_path / "scores.json").exists() and not (tmp_path / "out").exists()
