"""The baselines the report compares the pipeline with (evaluation.baselines), the winner logic
and the report's "Baselines, same dev splits" section (evaluation.report), against known
answers: TF-IDF + logistic regression learns an obvious signal on tiny synthetic DocBins,
deid.pl detections are scored with hand-counted PHI tokens, and hand-made metrics have known
winners and margins."""

import json
import random

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_clintiny.cli.baselines import baselines as baselines_cmd
from spacy_clintiny.evaluation import evaluate_pipelines
from spacy_clintiny.evaluation.baselines import (
    ADE_TASK,
    DEID_PL_SYSTEM,
    PHI_TASK,
    SPECIALTY_TASK,
    TFIDF_SYSTEM,
    best_threshold,
    deid_pl_baseline,
    read_baselines,
    run_baselines,
    spread_subset,
    textcat_baseline,
    top1_accuracy,
)
from spacy_clintiny.evaluation.report import baseline_comparison, compare_systems, markdown_report
from spacy_clintiny.training.mixed_corpus import load_examples

SOURCE = "clintiny_source"
SPECIALTIES = {
    "Cardiology": "heart murmur echocardiogram coronary stent angina",
    "Neurology": "seizure headache neuropathy tremor stroke aphasia",
    "Surgery": "incision sutures anesthesia laparoscopic drain excised",
}
FILLER = "patient seen today history reviewed plan follow up with the clinic and family".split()
DRUGS = ["aspirin", "heparin", "warfarin", "insulin", "lisinopril", "metformin"]
# one small grid: these tests check that the tuning runs and learns, not which C wins
SMALL_GRID = {"features": ("word 1-1",), "sublinear_tf": (True,), "C": (10.0,), "class_weight": (None, "balanced")}


def _doc(nlp, text, *, doc_id, group, cats=None, spans=None):
    doc = nlp.make_doc(text)
    doc.user_data[SOURCE] = {"corpus": "test", "doc_id": doc_id, "group": group}
    if cats is not None:
        doc.cats = cats
    if spans is not None:
        doc.spans["phi"] = [doc.char_span(text.index(s), text.index(s) + len(s), label=label) for s, label in spans]
    return doc


def _write(path, docs):
    path.parent.mkdir(parents=True, exist_ok=True)
    DocBin(docs=docs, store_user_data=True).to_disk(path)


def _specialty_docs(nlp, n, rng, start):
    docs = []
    for i in range(start, start + n):
        first = list(SPECIALTIES)[i % 3]
        gold = {first} | ({"Surgery"} if i % 4 == 0 else set())
        words = rng.sample(FILLER, 6) + [w for label in sorted(gold) for w in rng.sample(SPECIALTIES[label].split(), 3)]
        rng.shuffle(words)
        cats = {label: float(label in gold) for label in SPECIALTIES}
        docs.append(_doc(nlp, " ".join(words) + ".", doc_id=f"note-{i}", group=f"note-{i}", cats=cats))
    return docs


def _ade_docs(nlp, n, rng, start):
    docs = []
    for i in range(start, start + n):
        drug = rng.choice(DRUGS)
        if i % 3 == 0:
            text = f"The patient developed a severe rash and fever after {drug} was started."
        else:
            text = f"{drug.capitalize()} was given for {rng.choice(['hypertension', 'diabetes', 'pain'])} as planned."
        pmid = str(1000 + i // 2)  # two sentences per abstract: the folds keep them together
        docs.append(_doc(nlp, text, doc_id=f"{pmid}-{i}", group=pmid, cats={"ADE": float(i % 3 == 0)}))
    return docs


NOTE_1 = "Pt JOHN SMITH seen 3/14/2021 at MERCY HOSPITAL."
NOTE_2 = "Seen by DR JONES today."


def _phi_docs(nlp):
    return [
        _doc(
            nlp,
            NOTE_1,
            doc_id="3-1",
            group="3",
            spans=[("JOHN SMITH", "NAME"), ("3/14/2021", "DATE"), ("MERCY HOSPITAL", "LOCATION")],
        ),
        _doc(nlp, NOTE_2, doc_id="3-2", group="3", spans=[("JONES", "NAME")]),
    ]


def _deid_pl_file(path, blocks):
    lines = []
    for (pid, note), spans in blocks.items():
        lines.append(f"Patient {pid}\tNote {note}")
        lines += [f"{start}\t{start}\t{end}" for start, end in spans]
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


def _offsets(text, sub, inner=None):
    start = text.index(sub)
    if inner is not None:
        start += sub.index(inner)
        sub = inner
    return (start, start + len(sub))


# deid.pl finds JOHN SMITH, "seen" (not PHI) and "14" inside the date; it misses MERCY HOSPITAL,
# and its output has no block for note 3-2 (JONES missed). PHI tokens: JOHN, SMITH, 3/14/2021,
# MERCY, HOSPITAL, JONES = 6; found 3 of them (the date token overlaps "14"), plus 1 false one.
DETECTIONS = {
    ("3", "1"): [_offsets(NOTE_1, "JOHN SMITH"), _offsets(NOTE_1, "seen"), _offsets(NOTE_1, "3/14/2021", "14")]
}


@pytest.fixture
def corpus_dir(tmp_path, nlp):
    rng = random.Random(0)
    root = tmp_path / "corpus"
    _write(root / "mtsamples" / "train.spacy", _specialty_docs(nlp, 45, rng, 0))
    _write(root / "mtsamples" / "dev.spacy", _specialty_docs(nlp, 15, rng, 100))
    _write(root / "ade" / "train.spacy", _ade_docs(nlp, 48, rng, 0))
    _write(root / "ade" / "dev.spacy", _ade_docs(nlp, 18, rng, 100))
    _write(root / "physionet" / "dev.spacy", _phi_docs(nlp))
    return root


def test_baselines_learn_the_signal_and_write_the_expected_json(corpus_dir, tmp_path):
    deid_pl = _deid_pl_file(tmp_path / "id.phi", DETECTIONS)
    out = tmp_path / "baselines.json"
    grids = {SPECIALTY_TASK: SMALL_GRID, ADE_TASK: SMALL_GRID}
    result = run_baselines(corpus_dir, nlp=spacy.blank("en"), deid_pl=deid_pl, seed=0, grids=grids)
    assert set(result) >= {"version", "seed", "folds", "limit", "seconds", "tasks"}
    assert set(result["tasks"]) == {SPECIALTY_TASK, ADE_TASK, PHI_TASK}
    specialty = result["tasks"][SPECIALTY_TASK][TFIDF_SYSTEM]
    assert specialty["labels"] == 3 and specialty["train_docs"] == 45 and specialty["dev_docs"] == 15
    assert specialty["top1"] == 1.0
    assert specialty["macro_f"] >= 0.9
    assert set(specialty["thresholds"]) == set(SPECIALTIES)
    assert set(specialty["per_label"]) == set(SPECIALTIES)
    assert specialty["params"]["features"] == "word 1-1" and specialty["params"]["class_weight"] in (None, "balanced")
    assert specialty["cv"] == {**specialty["cv"], "splitter": "KFold", "folds": 3, "candidates": 2}
    assert specialty["words_per_s"] > 0
    ade = result["tasks"][ADE_TASK][TFIDF_SYSTEM]
    assert ade["f"] >= 0.9 and ade["cv"]["splitter"] == "StratifiedGroupKFold"
    assert 0.0 < ade["threshold"] < 1.0
    assert ade["dev_docs"] == 18
    phi = result["tasks"][PHI_TASK][DEID_PL_SYSTEM]
    assert phi["token_recall"] == pytest.approx(3 / 6) and phi["token_precision"] == pytest.approx(3 / 4)
    assert phi["notes_not_in_output"] == 1 and phi["patients"] == 1 and phi["words_per_s"] is None
    # the command writes the same structure atomically, and read_baselines accepts it
    written = baselines_cmd(corpus_dir, out, deid_pl=None, seed=0, limit=5)
    assert read_baselines(out)["tasks"].keys() == written["tasks"].keys() == {SPECIALTY_TASK, ADE_TASK}
    assert written["tasks"][ADE_TASK][TFIDF_SYSTEM]["dev_docs"] == 5  # --limit: the evaluate step's docs
    assert not list(out.parent.glob(".*.tmp"))


def test_grid_search_in_two_processes_chooses_and_scores_the_same(corpus_dir, nlp):
    train = load_examples(nlp, corpus_dir / "ade" / "train.spacy")
    dev = load_examples(nlp, corpus_dir / "ade" / "dev.spacy")
    grid = {**SMALL_GRID, "C": (0.01, 10.0)}  # four candidates fitted three times each
    one, two = (
        textcat_baseline(train, dev, task=ADE_TASK, labels=["ADE"], grid=grid, n_jobs=n_jobs) for n_jobs in (1, 2)
    )
    assert one["cv"]["candidates"] == 4 and one["f"] >= 0.9
    timed = ("fit_seconds", "words_per_s")
    assert {k: v for k, v in one.items() if k not in timed} == {k: v for k, v in two.items() if k not in timed}


def test_textcat_baseline_rejects_unusable_training_data(nlp, tmp_path):
    path = tmp_path / "ade.spacy"
    negatives = [
        _doc(nlp, f"{d} was given as planned.", doc_id=f"1-{i}", group=str(i), cats={"ADE": 0.0})
        for i, d in enumerate(DRUGS)
    ]
    _write(path, negatives)
    examples = load_examples(nlp, path)
    with pytest.raises(ValueError, match=r"E791.*only negative docs for 'ADE'"):
        textcat_baseline(examples, examples, task=ADE_TASK, labels=["ADE"], grid=SMALL_GRID)
    with pytest.raises(ValueError, match=r"E790.*\['Surgery'\]"):
        textcat_baseline(examples, examples, task=SPECIALTY_TASK, labels=["Surgery"], grid=SMALL_GRID)
    with pytest.raises(ValueError, match=r"E792.*features.*'trigrams'"):
        grid = {**SMALL_GRID, "features": ["trigrams"]}
        textcat_baseline(examples, examples, task=ADE_TASK, labels=["ADE"], grid=grid)
    with pytest.raises(ValueError, match=r"E792.*folds"):
        textcat_baseline(examples, examples, task=ADE_TASK, labels=["ADE"], grid=SMALL_GRID, folds=1)


def test_deid_pl_baseline_errors_name_the_file_and_note(nlp, tmp_path):
    docs_path = tmp_path / "dev.spacy"
    _write(docs_path, _phi_docs(nlp))
    dev = load_examples(nlp, docs_path)
    with pytest.raises(ValueError, match=r"E793.*none of the 2 dev note"):
        deid_pl_baseline(dev, {("6", "1"): [(0, 2)]}, output_path=tmp_path / "id.phi", docs_path=docs_path)
    with pytest.raises(ValueError, match=r"E794.*note 3-2.*\(20, 90\).*length 23"):
        deid_pl_baseline(dev, {("3", "2"): [(20, 90)]}, output_path=tmp_path / "id.phi", docs_path=docs_path)
    dev[1].reference.user_data[SOURCE]["doc_id"] = "note-7"
    with pytest.raises(ValueError, match=r"E795.*Doc 1 .*'note-7'"):
        deid_pl_baseline(dev, DETECTIONS, output_path=tmp_path / "id.phi", docs_path=docs_path)


def test_best_threshold_and_top1_known_answers():
    # F1 is 1.0 for every threshold in (0.3, 0.4]: 0.35 and 0.40 tie, the one nearer 0.5 wins
    assert best_threshold([1, 1, 0, 0], [0.9, 0.4, 0.3, 0.1]) == pytest.approx(0.40)
    assert best_threshold([0, 0], [0.9, 0.1]) == 0.5
    import numpy

    gold = numpy.array([[1, 0, 1], [0, 1, 0], [0, 0, 0]])
    probs = numpy.array([[0.2, 0.5, 0.3], [0.1, 0.8, 0.1], [0.9, 0.0, 0.0]])
    assert top1_accuracy(gold, probs) == pytest.approx(0.5)  # doc 3 has no gold label: not counted


def test_spread_subset_keeps_a_blocked_file_mixed():
    assert spread_subset(list(range(10)), 3) == [0, 3, 6]
    assert spread_subset(list(range(4)), 0) == [0, 1, 2, 3] == spread_subset(list(range(4)), 9)
    blocked = ["pos"] * 6 + ["neg"] * 6  # like ADE's dev file: positives first
    assert spread_subset(blocked, 4) == ["pos", "pos", "neg", "neg"]


def test_compare_systems_winner_and_margin():
    assert compare_systems({"student": 0.5, "teacher": 0.6, "tfidf": 0.9, "cnn": None}) == {
        "winner": "tfidf",
        "value": 0.9,
        "runner_up": "teacher",
        "margin": pytest.approx(0.3),
    }
    assert compare_systems({"student": 0.7}) == {"winner": "student", "value": 0.7, "runner_up": None, "margin": None}
    tie = compare_systems({"student": 0.8, "teacher": 0.8, "tfidf": 0.1})
    assert tie["winner"] is None and tie["tied"] == ["student", "teacher"] and tie["margin"] == 0.0
    assert compare_systems({"student": None}) is None


def _metrics(*, ade_student=0.0, baselines=True, dev_docs=287):
    metrics = {
        "dev_docs": {"mtsamples": dev_docs, "ade": 300, "physionet": 215},
        "student": {
            "params": 15_615_360,
            "encoder_mb": 60.0,
            "words_per_s": 4504.0,
            "tasks": {
                "textcat_specialty": {"kind": "textcat", "acc": 0.648, "main": 0.034, "per_label": {"A": {}, "B": {}}},
                "textcat_ade": {"kind": "textcat", "acc": 1.0, "main": ade_student, "per_label": {"ADE": {}}},
            },
            "phi_tokens": {"token_recall": 0.58, "token_precision": 0.285},
        },
        "teacher": {
            "params": 22_713_216,
            "encoder_mb": 87.0,
            "words_per_s": 1693.0,
            "tasks": {
                "textcat_specialty": {"kind": "textcat", "acc": 0.659, "main": 0.036},
                "textcat_ade": {"kind": "textcat", "main": 0.261},
            },
            "phi_tokens": {"token_recall": 0.632, "token_precision": 0.399},
        },
    }
    if baselines:
        metrics["baselines"] = {
            "version": 1,
            "tasks": {
                SPECIALTY_TASK: {
                    TFIDF_SYSTEM: {
                        "name": "TF-IDF + logistic regression",
                        "top1": 0.927,
                        "macro_f": 0.616,
                        "words_per_s": 2_400_000.0,
                        "dev_docs": 287,
                        "params": {"features": "word 1-1", "sublinear_tf": True, "C": 10.0, "class_weight": "balanced"},
                    }
                },
                ADE_TASK: {
                    TFIDF_SYSTEM: {
                        "name": "TF-IDF + logistic regression",
                        "f": 0.647,
                        "words_per_s": 130_000.0,
                        "dev_docs": 300,
                    }
                },
                PHI_TASK: {
                    DEID_PL_SYSTEM: {
                        "name": "deid.pl",
                        "token_recall": 0.948,
                        "token_precision": 0.732,
                        "words_per_s": None,
                        "dev_docs": 215,
                    }
                },
            },
        }
    return metrics


def test_baseline_comparison_task_by_task():
    by_task = {t["task"]: t for t in baseline_comparison(_metrics())}
    assert list(by_task) == [SPECIALTY_TASK, ADE_TASK, PHI_TASK]
    top1, macro_f = by_task[SPECIALTY_TASK]["figures"]
    assert top1["values"] == {"student": 0.648, "teacher": 0.659, TFIDF_SYSTEM: 0.927}
    assert top1["comparison"]["winner"] == TFIDF_SYSTEM and top1["comparison"]["runner_up"] == "teacher"
    assert top1["comparison"]["margin"] == pytest.approx(0.927 - 0.659)
    assert top1["student_minus_best_baseline"] == pytest.approx(0.648 - 0.927)
    assert macro_f["comparison"]["margin"] == pytest.approx(0.616 - 0.036)
    recall, precision = by_task[PHI_TASK]["figures"]
    assert recall["comparison"]["winner"] == DEID_PL_SYSTEM
    assert precision["student_minus_best_baseline"] == pytest.approx(0.285 - 0.732)
    # a student ahead of every system wins by its margin over the runner-up
    (ade,) = {t["task"]: t for t in baseline_comparison(_metrics(ade_student=0.9))}[ADE_TASK]["figures"]
    assert ade["comparison"]["winner"] == "student" and ade["comparison"]["runner_up"] == TFIDF_SYSTEM
    assert ade["comparison"]["margin"] == pytest.approx(0.9 - 0.647)
    assert baseline_comparison(_metrics(baselines=False)) == []


def test_report_section_renders_with_and_without_baselines():
    plain = markdown_report(_metrics(baselines=False))
    assert "Baselines, same dev splits" not in plain
    assert "## Student versus teacher" in plain
    report = markdown_report(_metrics())
    assert "## Baselines, same dev splits" in report
    section = report.split("## Baselines, same dev splits")[1].split("## Per-label")[0]
    assert (
        "| TF-IDF + logistic regression (word 1-1, sublinear tf, C 10, class weights balanced) | 92.7 | 61.6 | "
        "2,400,000 |" in section
    )
    assert (
        "- top-1 in gold set: **TF-IDF + logistic regression** wins by 26.8 points over teacher; student "
        "minus best baseline: -27.9 points"
    ) in section
    assert "- token recall: **deid.pl** wins by 31.6 points over teacher; student minus best baseline: -36.8" in section
    assert "| deid.pl | 94.8 | 73.2 | – |" in section
    assert "not the same docs" not in section
    # the pipelines scored other docs than the baseline: the report says so
    mismatch = markdown_report(_metrics(dev_docs=100))
    assert (
        "not the same docs: the pipelines were scored on 100 dev doc(s) of mtsamples, the baselines on 287" in mismatch
    )


def test_report_marks_a_teacher_head_of_another_recipe_and_gives_no_kept_fraction():
    """The teacher's PHI head from its multi-task run against the student's own PHI run: the
    figures stay, marked, and no kept fraction compares the two recipes."""
    same = markdown_report(_metrics())
    assert "| PhysioNet PHI token recall | 58.0 | 63.2 | 91.8 |" in same
    assert "other recipe" not in same
    metrics = _metrics()
    metrics["teacher_other_recipe"] = ["phi"]
    report = markdown_report(metrics)
    table = report.split("## Baselines")[0]
    assert "| PhysioNet PHI token recall | 58.0 | 63.2 (other recipe) | – |" in table
    assert "| PhysioNet PHI token precision | 28.5 | 39.9 (other recipe) | – |" in table
    # the other tasks keep their kept fraction: ADE sentences 0.0 / 26.1
    assert "| ADE sentence (ADE corpus) F1 | 0.0 | 26.1 | 0.0 |" in table
    assert "the teacher's head for PHI (de-identification) was trained with another recipe" in table
    phi = report.split("### PhysioNet PHI tokens")[1].split("##")[0]
    assert "| teacher (other recipe) | 63.2 | 39.9 |" in phi
    assert "over teacher (other recipe)" in phi
    specialty = report.split("### Specialty (MTSamples)")[1].split("###")[0]
    assert "| teacher | 65.9 |" in specialty


def test_evaluate_refuses_an_unknown_other_recipe_task_before_evaluating(tmp_path):
    with pytest.raises(ValueError, match=r"E905.*'ner'.*phi, concepts"):
        evaluate_pipelines(tmp_path / "no-student", tmp_path, tmp_path / "out", teacher_other_recipe=["ner"])


def test_evaluate_checks_the_baselines_file_before_evaluating(tmp_path):
    bad = tmp_path / "baselines.json"
    bad.write_text(json.dumps({"version": 99, "tasks": {}}), encoding="utf8")
    # the student path does not exist: the baselines file must be rejected before it is loaded
    with pytest.raises(ValueError, match=r"E796.*version 99"):
        evaluate_pipelines(tmp_path / "no-student", tmp_path, tmp_path / "out", baselines=bad)
    bad.write_text("{not json", encoding="utf8")
    with pytest.raises(ValueError, match=r"E796.*unreadable"):
        read_baselines(bad)


def test_run_baselines_skips_a_task_it_cannot_train_and_says_why(nlp, tmp_path):
    """A smoke-size ADE split with positives only: no baseline for it, the others still run."""
    rng = random.Random(0)
    for name, docs in (("train", _specialty_docs(nlp, 30, rng, 0)), ("dev", _specialty_docs(nlp, 10, rng, 100))):
        _write(tmp_path / "mtsamples" / f"{name}.spacy", docs)
    positives = [
        _doc(nlp, f"{d} caused a rash.", doc_id=f"1-{i}", group=str(i), cats={"ADE": 1.0}) for i, d in enumerate(DRUGS)
    ]
    for name in ("train", "dev"):
        _write(tmp_path / "ade" / f"{name}.spacy", positives)
    result = run_baselines(tmp_path, nlp=spacy.blank("en"), seed=0, grids={SPECIALTY_TASK: SMALL_GRID})
    assert set(result["tasks"]) == {SPECIALTY_TASK}
    assert "E791" in result["skipped"][ADE_TASK] and "only positive docs" in result["skipped"][ADE_TASK]


def test_runtime_section_names_the_real_notes_the_runtime_was_checked_on():
    from spacy_clintiny.evaluation.report import runtime_section

    entry = {"worst_loss": 1.3, "worst_task": "rel@ade", "phi_token_f1_loss": -0.47, "within_bound": False}
    decision = {"chosen": "onnx", "max_loss": 0.5, "candidates": {"onnx-int8": entry}}
    lines = runtime_section(dict(decision, phi_docs="corpus/physionet/train.spacy"))
    assert "against fp32 (real-note PHI measured on `corpus/physionet/train.spacy`)." in lines[2]
    assert "| onnx-int8 | 1.30 | rel@ade | -0.47 | no |" in lines
    assert runtime_section(decision)[2].endswith("against fp32.")
    assert runtime_section(None) == []
