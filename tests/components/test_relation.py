"""clintiny_rel: candidate pairs, training on partially annotated docs, thresholds, storage."""

import pickle

import numpy
import pytest
import spacy
from numpy.testing import assert_allclose
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example

from helpers import encoder_config, train_with_spacy
from spacy_clintiny.architectures.instances import get_candidate_pairs, get_candidates, get_entity_spans, token_distance
from spacy_clintiny.architectures.relation_head import pair_geometry
from spacy_clintiny.augmenters import copy_gold_spans
from spacy_clintiny.relations import Relation, get_gold_relations, gold_relation_keys, set_gold_relations

KEYS = ["concepts", "modifiers"]

CONFIG = (
    encoder_config(["clintiny_encoder", "clintiny_rel"])
    + """
[components.clintiny_rel]
factory = "clintiny_rel"
spans_keys = ["concepts", "modifiers"]
max_distance = 20
threshold = 0.5

[components.clintiny_rel.model]
@architectures = "spacy-clintiny.RelationClassifier.v1"
hidden_width = 32
label_width = 8
dropout = 0.0

[components.clintiny_rel.model.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
grad_factor = 1.0
upstream = "*"

[components.clintiny_rel.model.tok2vec.pooling]
@layers = "reduce_mean.v1"

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${paths.train}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${paths.dev}
augmenter = {"@augmenters": "spacy-clintiny.CopyGoldSpans.v1", "spans_keys": ["concepts", "modifiers"]}

[training]
seed = ${system.seed}
gpu_allocator = ${system.gpu_allocator}
dropout = 0.0
accumulate_gradient = 1
patience = 0
max_epochs = 0
max_steps = 40
eval_frequency = 40
frozen_components = []
annotating_components = []
dev_corpus = "corpora.dev"
train_corpus = "corpora.train"
before_to_disk = null
before_update = null
logger = {"@loggers": "spacy.ConsoleLogger.v1"}

[training.batcher]
@batchers = "spacy.batch_by_sequence.v1"
size = 8
get_length = null

[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = 0.005
use_averages = false

[training.score_weights]
clintiny_rel_rel_f = 1.0

[initialize]
vectors = null
init_tok2vec = null
vocab_data = null
lookups = null
before_init = null
after_init = null

[initialize.components]

[initialize.tokenizer]
"""
)

# (text, [(entity text, label, key)], [(head text, tail text, relation label)]); entity
# texts are unique within a doc. None for relations = not annotated for relations.
DOCS = [
    (
        "Started aspirin 81 mg daily. Developed a rash two days later.",
        [("aspirin", "DRUG", "concepts"), ("81 mg", "DOSE", "modifiers"), ("rash", "AE", "concepts")],
        [("aspirin", "rash", "DRUG_AE"), ("aspirin", "81 mg", "DRUG_DOSE")],
    ),
    (
        "Heparin 5000 units given. No bleeding noted.",
        [("Heparin", "DRUG", "concepts"), ("5000 units", "DOSE", "modifiers"), ("bleeding", "AE", "concepts")],
        [("Heparin", "5000 units", "DRUG_DOSE")],
    ),
    (
        "Metformin caused nausea ; insulin was continued.",
        [("Metformin", "DRUG", "concepts"), ("nausea", "AE", "concepts"), ("insulin", "DRUG", "concepts")],
        [("Metformin", "nausea", "DRUG_AE")],
    ),
    (
        "Warfarin 5 mg and lisinopril 10 mg were started.",
        [
            ("Warfarin", "DRUG", "concepts"),
            ("5 mg", "DOSE", "modifiers"),
            ("lisinopril", "DRUG", "concepts"),
            ("10 mg", "DOSE", "modifiers"),
        ],
        [("Warfarin", "5 mg", "DRUG_DOSE"), ("lisinopril", "10 mg", "DRUG_DOSE")],
    ),
    (
        "Patient denies headache on lisinopril.",
        [("headache", "AE", "concepts"), ("lisinopril", "DRUG", "concepts")],
        [],
    ),
    (
        "Cough after lisinopril 20 mg .",
        [("Cough", "AE", "concepts"), ("lisinopril", "DRUG", "concepts"), ("20 mg", "DOSE", "modifiers")],
        [("lisinopril", "Cough", "DRUG_AE"), ("lisinopril", "20 mg", "DRUG_DOSE")],
    ),
]


def make_doc(nlp, text, ents, rels):
    doc = nlp.make_doc(text)
    offsets = {}
    groups = {}
    for ent_text, label, key in ents:
        start = text.index(ent_text)
        offsets[ent_text] = [start, start + len(ent_text)]
        groups.setdefault(key, []).append(doc.char_span(start, start + len(ent_text), label=label))
    for key in KEYS:
        doc.spans[key] = groups.get(key, [])
    if rels is not None:
        set_gold_relations(doc, [{"head": offsets[h], "tail": offsets[t], "label": lab} for h, t, lab in rels])
    return doc


def reference_docs(nlp):
    return [make_doc(nlp, *item) for item in DOCS]


def gold_examples(nlp, docs):
    return [copy_gold_spans(Example(nlp.make_doc(doc.text), doc), KEYS) for doc in docs]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_encoder):
    docs = reference_docs(spacy.blank("en"))
    return train_with_spacy(CONFIG, tmp_path_factory.mktemp("rel_train"), tiny_encoder, docs), docs


def test_rel_overfits_with_spacy_train(trained):
    nlp, docs = trained
    scores = nlp.evaluate(gold_examples(nlp, docs))
    assert scores["clintiny_rel_rel_f"] >= 0.9
    assert scores["clintiny_rel_rel_gold_unreachable"] == 0.0
    assert set(scores["clintiny_rel_rel_per_type"]) == {"DRUG_AE", "DRUG_DOSE"}
    # the cross-sentence relation (aspirin ... . ... rash) is found
    doc = nlp(gold_examples(nlp, docs[:1])[0].predicted)
    found = {(r.head.text, r.tail.text, r.label) for r in doc._.clintiny_rels}
    assert ("aspirin", "rash", "DRUG_AE") in found
    for rel in doc._.clintiny_rels:
        assert rel.score >= 0.5 and rel.head.label_ in {"DRUG"} and isinstance(rel.head, Span)


def test_rel_round_trips_to_disk_and_docbin(trained, tmp_path):
    nlp, docs = trained
    doc = nlp(gold_examples(nlp, docs[:1])[0].predicted)
    assert doc._.clintiny_rels  # something to round-trip: equal empty lists would prove nothing
    nlp.to_disk(tmp_path / "model")
    nlp2 = spacy.load(tmp_path / "model")
    assert nlp2.get_pipe("clintiny_rel").cfg == nlp.get_pipe("clintiny_rel").cfg
    doc2 = nlp2(gold_examples(nlp2, docs[:1])[0].predicted)
    assert [(r.key, round(r.score, 5)) for r in doc2._.clintiny_rels] == [
        (r.key, round(r.score, 5)) for r in doc._.clintiny_rels
    ]
    # predicted docs survive DocBin(store_user_data=True) and pickling with their relations
    docbin_bytes = DocBin(docs=[doc], store_user_data=True).to_bytes()
    loaded = list(DocBin().from_bytes(docbin_bytes).get_docs(nlp.vocab))[0]
    from_bytes = Doc(nlp.vocab).from_bytes(doc.to_bytes())  # how nlp.pipe(n_process=2) ships docs
    for other in (loaded, pickle.loads(pickle.dumps(doc)), from_bytes):
        assert [(r.key, r.head.label_, r.tail.label_, r.score) for r in other._.clintiny_rels] == [
            (r.key, r.head.label_, r.tail.label_, r.score) for r in doc._.clintiny_rels
        ]
        assert get_gold_relations(other) is None  # predictions are not mistaken for gold


def test_docs_without_entities_or_text_get_an_empty_list(trained):
    nlp, _ = trained
    for text in ["", "  \n", "no entities here"]:
        assert nlp(text)._.clintiny_rels == []
    assert spacy.blank("en")("not processed")._.clintiny_rels is None


# ---------------------------------------------------------------- candidates


def _doc_with_groups(nlp, words, groups):
    doc = Doc(nlp.vocab, words=words)
    for key, spans in groups.items():
        doc.spans[key] = [Span(doc, s, e, label=label) for s, e, label in spans]
    return doc


def test_candidate_pairs_respect_max_distance_in_both_directions(nlp):
    words = "a1 x x b1 x x x x x x c1".split()  # a1-b1: 2 tokens between, b1-c1: 6
    doc = _doc_with_groups(nlp, words, {"concepts": [(0, 1, "DRUG"), (3, 4, "AE"), (10, 11, "AE")]})
    spans = get_entity_spans(doc, ["concepts"])
    assert token_distance(spans[0], spans[1]) == 2 and token_distance(spans[2], spans[1]) == 6
    assert get_candidate_pairs(spans, 1) == []
    assert sorted(get_candidate_pairs(spans, 2)) == [(0, 1), (1, 0)]
    assert sorted(get_candidate_pairs(spans, 6)) == [(0, 1), (1, 0), (1, 2), (2, 1)]
    assert len(get_candidate_pairs(spans, 9)) == 6


def test_candidates_cross_sentence_boundaries_and_union_keys(nlp):
    doc = nlp("Started aspirin. Rash and hives today.")
    doc[0].is_sent_start = True
    doc[3].is_sent_start = True  # "Rash" starts the second sentence
    doc.spans["concepts"] = [Span(doc, 1, 2, label="DRUG"), Span(doc, 3, 4, label="AE")]
    doc.spans["modifiers"] = [Span(doc, 3, 4, label="AE_DUP"), Span(doc, 5, 6, label="AE")]
    doc.ents = [Span(doc, 6, 7, label="DATE")]
    cands = get_candidates(doc, ["concepts", "modifiers"], max_distance=5)
    assert [(s.start, s.label_) for s in cands.spans] == [(1, "DRUG"), (3, "AE"), (5, "AE")]  # first key wins
    assert (0, 1) in cands.pairs and doc[1].sent != doc[3].sent
    with_ents = get_candidates(doc, ["ents", "concepts"], max_distance=0)
    assert [s.label_ for s in with_ents.spans] == ["DRUG", "AE", "DATE"]
    assert with_ents.pairs == []  # nothing adjacent


# ---------------------------------------------------------------- in-process pipelines


def _pipeline(encoder, *, no_dropout=False, **rel_cfg):
    nlp = spacy.blank("en")
    model = {"name": str(encoder), "window": 48, "stride": 36}
    if no_dropout:
        model["transformer_config"] = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    nlp.add_pipe("clintiny_encoder", config={"model": model})
    cfg = {"spans_keys": KEYS, "max_distance": 20, "model": {"hidden_width": 16, "label_width": 8, "dropout": 0.0}}
    cfg.update(rel_cfg)
    nlp.add_pipe("clintiny_rel", config=cfg)
    return nlp


def _examples(nlp, docs):
    return [Example(nlp.make_doc(doc.text), doc) for doc in docs]


def test_rel_loss_falls(tiny_encoder):
    nlp = _pipeline(tiny_encoder)
    examples = _examples(nlp, reference_docs(nlp))
    optimizer = nlp.initialize(lambda: examples)
    history = [nlp.update(examples, sgd=optimizer, drop=0.0)["clintiny_rel"] for _ in range(12)]
    assert history[-1] < 0.5 * history[0]


def _head_grads(pipe):
    grads = {}
    for node in pipe.model.walk():
        for name in node.param_names:
            if node.has_grad(name):
                grads[(node.id, name)] = numpy.array(node.get_grad(name))
                node.set_grad(name, node.ops.alloc(node.get_grad(name).shape))
    return grads


def test_rel_docs_without_gold_relations_change_neither_loss_nor_gradients(tiny_encoder):
    nlp = _pipeline(tiny_encoder, no_dropout=True)
    annotated = _examples(nlp, reference_docs(nlp)[:4])
    # entities but no relation annotation (e.g. a NER-only corpus), and a doc with nothing
    unannotated = _examples(nlp, [make_doc(nlp, *DOCS[4][:2], None), make_doc(nlp, *DOCS[5][:2], None)])
    unannotated.append(Example(nlp.make_doc("plain note"), nlp.make_doc("plain note")))
    nlp.initialize(lambda: annotated)
    pipe = nlp.get_pipe("clintiny_rel")
    loss_a = nlp.update(annotated, sgd=False, drop=0.0)["clintiny_rel"]
    grads_a = _head_grads(pipe)
    mixed = [unannotated[0], annotated[0], annotated[1], unannotated[1], annotated[2], unannotated[2], annotated[3]]
    loss_b = nlp.update(mixed, sgd=False, drop=0.0)["clintiny_rel"]
    grads_b = _head_grads(pipe)
    assert loss_a > 0 and loss_b == pytest.approx(loss_a, rel=1e-5)
    assert grads_a.keys() == grads_b.keys() and len(grads_a) >= 5  # hidden, output, label embedding
    for key in grads_a:
        assert_allclose(grads_b[key], grads_a[key], rtol=1e-4, atol=1e-6)
    assert nlp.update(unannotated, sgd=False, drop=0.0)["clintiny_rel"] == 0.0
    assert all(not g.any() for g in _head_grads(pipe).values())


def _from_corpus(doc, corpus):
    doc.user_data["clintiny_source"] = {"corpus": corpus, "doc_id": "d", "group": "g"}
    return doc


def test_labels_a_corpus_does_not_annotate_are_neither_negatives_nor_scored(tiny_encoder):
    """An 'ade' doc annotated for DRUG_AE only: its DRUG_DOSE gold (present or not) changes
    neither the loss nor any gradient, and a DRUG_DOSE prediction on it is no false positive."""
    nlp = _pipeline(tiny_encoder, no_dropout=True, annotated_labels={"ade": ["DRUG_AE"]})
    nlp.initialize(lambda: _examples(nlp, reference_docs(nlp)))
    pipe = nlp.get_pipe("clintiny_rel")
    text, ents, rels = DOCS[0]  # aspirin -> rash DRUG_AE, aspirin -> 81 mg DRUG_DOSE
    with_dose = _examples(nlp, [_from_corpus(make_doc(nlp, text, ents, rels), "ade")])
    without_dose = _examples(nlp, [_from_corpus(make_doc(nlp, text, ents, rels[:1]), "ade")])
    losses, grads = [], []
    for examples in (with_dose, without_dose):
        losses.append(nlp.update(examples, sgd=False, drop=0.0)["clintiny_rel"])
        grads.append(_head_grads(pipe))
    assert losses[0] > 0 and losses[1] == pytest.approx(losses[0], rel=1e-6)
    for key in grads[0]:
        assert_allclose(grads[1][key], grads[0][key], rtol=1e-5, atol=1e-7)
    # the same doc from a corpus annotated for every label: DRUG_DOSE is a target again
    other = _examples(nlp, [_from_corpus(make_doc(nlp, text, ents, rels[:1]), "synth")])
    assert nlp.update(other, sgd=False, drop=0.0)["clintiny_rel"] != pytest.approx(losses[1], rel=1e-3)
    assert pipe.annotated_labels_of(other[0].reference) == {"DRUG_AE", "DRUG_DOSE"}
    # scoring: the gold DRUG_AE predicted, plus a DRUG_DOSE pair the ade doc does not annotate
    eg = copy_gold_spans(without_dose[0], KEYS)
    spans = {span.text: span for span in pipe.candidates(eg.predicted).spans}
    eg.predicted._.clintiny_rels = [
        Relation(head=spans["aspirin"], tail=spans["rash"], label="DRUG_AE", score=0.9),
        Relation(head=spans["aspirin"], tail=spans["81 mg"], label="DRUG_DOSE", score=0.9),
    ]
    scores = pipe.score([eg])
    assert scores["clintiny_rel_rel_p"] == 1.0 and scores["clintiny_rel_rel_f"] == 1.0
    assert "DRUG_DOSE" not in {k for k, v in scores["clintiny_rel_rel_per_type"].items() if v["p"] or v["r"]}
    # what calibration reads: truths and misses for every label, the unannotated one empty
    truths, missed = pipe.pair_truths(with_dose[0].reference, pipe.candidates(eg.predicted))
    assert truths.shape[1] == len(missed) == 2 and truths[:, 0].sum() == 1 and not truths[:, 1].any()
    assert pipe.annotated_mask(with_dose[0].reference).tolist() == [1.0, 0.0]
    eg.reference.user_data["clintiny_source"]["corpus"] = "synth"
    assert pipe.score([eg])["clintiny_rel_rel_p"] == 0.5  # there it is a false positive


def test_a_docs_own_relation_labels_narrow_its_corpus(tiny_encoder):
    """An ADE-NEG sentence: an empty relation list annotated for DRUG_AE only. A DRUG_AE
    predicted there is a false positive; a DRUG_DOSE is not scored (never annotated there)."""
    nlp = _pipeline(tiny_encoder, no_dropout=True)
    nlp.initialize(lambda: _examples(nlp, reference_docs(nlp)))
    pipe = nlp.get_pipe("clintiny_rel")
    text, ents, rels = DOCS[0]  # aspirin -> rash DRUG_AE, aspirin -> 81 mg DRUG_DOSE
    negative = _from_corpus(make_doc(nlp, text, ents, []), "ade")
    negative.user_data["clintiny_source"]["relation_labels"] = ["DRUG_AE"]
    assert pipe.annotated_labels_of(negative) == {"DRUG_AE"}
    assert pipe.annotated_mask(negative).tolist() == [1.0, 0.0]
    positive, negative = (
        copy_gold_spans(eg, KEYS) for eg in _examples(nlp, [make_doc(nlp, text, ents, rels), negative])
    )
    for eg in (positive, negative):
        spans = {span.text: span for span in pipe.candidates(eg.predicted).spans}
        ae = Relation(head=spans["aspirin"], tail=spans["rash"], label="DRUG_AE", score=0.9)
        dose = Relation(head=spans["aspirin"], tail=spans["81 mg"], label="DRUG_DOSE", score=0.9)
        eg.predicted._.clintiny_rels = [ae, dose] if eg is positive else [dose]
    # the positive doc's two relations are right; the negative one's dose is not scored
    assert pipe.score([positive, negative])["clintiny_rel_rel_p"] == 1.0
    negative.predicted._.clintiny_rels = [ae, dose]  # now a DRUG_AE where none is stated
    scores = pipe.score([positive, negative])
    assert scores["clintiny_rel_rel_p"] == pytest.approx(2 / 3)
    assert scores["clintiny_rel_rel_per_type"]["DRUG_AE"]["p"] == pytest.approx(0.5)
    assert scores["clintiny_rel_rel_per_type"]["DRUG_DOSE"]["p"] == 1.0


def test_threshold_no_relation_and_multi_label(tiny_encoder):
    nlp = _pipeline(tiny_encoder, threshold=0.6)
    examples = _examples(nlp, reference_docs(nlp))
    nlp.initialize(lambda: examples)
    pipe = nlp.get_pipe("clintiny_rel")
    assert pipe.labels == ("DRUG_AE", "DRUG_DOSE")
    doc = gold_examples(nlp, [examples[2].reference])[0].predicted  # Metformin, nausea, insulin
    cands = pipe.candidates(doc)
    assert len(cands.pairs) == 6
    probs = numpy.zeros((6, 2), dtype="float32")
    probs[0] = [0.59, 0.1]  # just below threshold: no relation
    probs[1] = [0.9, 0.7]  # both labels: two relations for the same pair
    pipe.set_annotations([doc], ([cands], probs))
    rels = doc._.clintiny_rels
    h, t = cands.pairs[1]
    assert [(r.head, r.tail, r.label, pytest.approx(r.score)) for r in rels] == [
        (cands.spans[h], cands.spans[t], "DRUG_AE", 0.9),
        (cands.spans[h], cands.spans[t], "DRUG_DOSE", 0.7),
    ]
    assert "DRUG_AE" in repr(rels[0]) and "nausea" not in repr(rels[0]) and "Metformin" not in repr(rels[0])
    pipe.set_annotations([doc], ([cands], numpy.full((6, 2), 0.2, dtype="float32")))
    assert doc._.clintiny_rels == []


def test_per_label_thresholds_decide_each_label(tiny_encoder):
    nlp = _pipeline(tiny_encoder, thresholds={"DRUG_DOSE": 0.65})
    examples = _examples(nlp, reference_docs(nlp))
    nlp.initialize(lambda: examples)
    pipe = nlp.get_pipe("clintiny_rel")
    assert pipe.label_thresholds.tolist() == pytest.approx([0.5, 0.65])
    doc = gold_examples(nlp, [examples[2].reference])[0].predicted
    cands = pipe.candidates(doc)
    probs = numpy.zeros((len(cands.pairs), 2), dtype="float32")
    probs[0] = [0.55, 0.6]  # DRUG_AE at its 0.5, DRUG_DOSE below its 0.65
    pipe.set_annotations([doc], ([cands], probs))
    assert [r.label for r in doc._.clintiny_rels] == ["DRUG_AE"]
    with pytest.raises(ValueError, match="E881"):
        pipe.set_thresholds({"CID": 0.3})
    bad = _pipeline(tiny_encoder, thresholds={"CID": 0.3})
    with pytest.raises(ValueError, match="E881"):  # a threshold for a label the head does not get
        bad.initialize(lambda: _examples(bad, reference_docs(bad)))


def test_pair_geometry_ids_and_between_ranges(nlp):
    # Warfarin 5 mg and lisinopril 10 mg were started .
    # 0        1 2  3   4          5  6  7    8       9
    doc = _doc_with_groups(
        nlp,
        "Warfarin 5 mg and lisinopril 10 mg were started .".split(),
        {"concepts": [(0, 1, "DRUG"), (4, 5, "DRUG")], "modifiers": [(1, 3, "DOSE"), (5, 7, "DOSE")]},
    )
    cands = get_candidates(doc, KEYS, 20)
    ids, between = pair_geometry([cands])
    spans = [(s.start, s.end) for s in cands.spans]
    assert spans == [(0, 1), (1, 3), (4, 5), (5, 7)]
    pairs = {(spans[h], spans[t]): (int(i), b) for (h, t), i, b in zip(cands.pairs, ids, between)}
    # direction x 9 distance buckets x 4 entities-between buckets
    assert pairs[((0, 1), (1, 3))] == ((0 * 9 + 0) * 4 + 0, (0, 1, 1))  # adjacent: nothing between
    assert pairs[((1, 3), (0, 1))] == ((1 * 9 + 0) * 4 + 0, (0, 1, 1))  # the same pair, tail first
    assert pairs[((0, 1), (5, 7))] == ((0 * 9 + 4) * 4 + 2, (0, 1, 5))  # 4 tokens, 2 entities between
    assert pairs[((4, 5), (5, 7))] == ((0 * 9 + 0) * 4 + 0, (0, 5, 5))
    assert len(set(ids.tolist())) < len(ids)  # geometry alone does not tell every pair apart


def test_relation_classifier_v2_learns_and_round_trips(tiny_encoder, tmp_path):
    v2 = {
        "@architectures": "spacy-clintiny.RelationClassifier.v2",
        "hidden_width": 16,
        "label_width": 8,
        "geometry_width": 8,
        "dropout": 0.0,
        "tok2vec": {"@architectures": "spacy-transformers.TransformerListener.v1", "grad_factor": 1.0, "upstream": "*"},
    }
    v2["tok2vec"]["pooling"] = {"@layers": "reduce_mean.v1"}
    nlp = _pipeline(tiny_encoder, model=v2)
    examples = _examples(nlp, reference_docs(nlp))
    optimizer = nlp.initialize(lambda: examples)
    features = nlp.get_pipe("clintiny_rel").model.get_ref("featurizer")
    assert features.get_dim("nO") == 4 * features.get_dim("nI") + 2 * 8 + 8
    optimizer.learn_rate = 0.005
    history = [nlp.update(examples, sgd=optimizer, drop=0.0)["clintiny_rel"] for _ in range(40)]
    assert history[-1] < 0.5 * history[0]
    doc = nlp(gold_examples(nlp, [examples[3].reference])[0].predicted)  # Warfarin 5 mg and lisinopril 10 mg
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    again = loaded(gold_examples(loaded, [examples[3].reference])[0].predicted)
    # each dose with its own drug, not the other one
    assert {(r.head.text, r.tail.text, r.label) for r in doc._.clintiny_rels} == {
        ("Warfarin", "5 mg", "DRUG_DOSE"),
        ("lisinopril", "10 mg", "DRUG_DOSE"),
    }
    assert [r.key for r in again._.clintiny_rels] == [r.key for r in doc._.clintiny_rels]
    assert_allclose([r.score for r in again._.clintiny_rels], [r.score for r in doc._.clintiny_rels], rtol=1e-5)


def test_unreachable_gold_relations_are_counted(tiny_encoder):
    nlp = _pipeline(tiny_encoder, max_distance=3)
    text = "aspirin was given on monday and then a rash appeared"
    doc = make_doc(
        nlp,
        text,
        [("aspirin", "DRUG", "concepts"), ("rash", "AE", "concepts"), ("monday", "DATE", "modifiers")],
        [("aspirin", "rash", "DRUG_AE"), ("aspirin", "monday", "GIVEN_ON")],
    )
    examples = _examples(nlp, [doc])
    nlp.initialize(lambda: examples)
    losses = nlp.update(examples, sgd=False)
    assert losses["clintiny_rel_gold_unreachable"] == 1.0  # aspirin -> rash is 7 tokens apart
    scores = nlp.evaluate(gold_examples(nlp, [doc]))
    assert scores["clintiny_rel_rel_gold_unreachable"] == 1.0
    assert scores["clintiny_rel_rel_r"] <= 0.5


# ---------------------------------------------------------------- errors


def test_unknown_spans_key_names_the_existing_keys(tiny_encoder):
    nlp = _pipeline(tiny_encoder, spans_keys=["concepts", "drugs"])
    examples = _examples(nlp, reference_docs(nlp))
    with pytest.raises(ValueError, match=r"E301.*\['drugs'\].*\['concepts', 'modifiers'\]"):
        nlp.initialize(lambda: examples)


@pytest.mark.parametrize(
    "cfg,labels,code",
    [
        ({"max_distance": -1}, None, "E300"),
        ({"spans_keys": []}, None, "E300.*spans_keys"),
        ({"threshold": 2}, None, "E300"),
    ],
)
def test_misconfigured_rel_errors(tiny_encoder, cfg, labels, code):
    with pytest.raises(ValueError, match=code):
        nlp = _pipeline(tiny_encoder, **cfg)
        examples = _examples(nlp, reference_docs(nlp))
        nlp.get_pipe("clintiny_rel").initialize(lambda: examples, nlp=nlp, labels=labels)


def test_no_relation_annotation_is_a_clear_error(tiny_encoder):
    nlp = _pipeline(tiny_encoder)
    examples = _examples(nlp, [make_doc(nlp, text, ents, []) for text, ents, _ in DOCS])
    with pytest.raises(ValueError, match=r"E302.*6 of the 6"):
        nlp.initialize(lambda: examples)


def test_no_encoder_upstream_is_a_clear_error(nlp):
    nlp.add_pipe("clintiny_rel", config={"spans_keys": KEYS})
    examples = _examples(nlp, reference_docs(nlp))
    with pytest.raises(ValueError, match="E004.*clintiny_rel"):
        nlp.initialize(lambda: examples)


def test_label_cannot_be_added_after_initialize(tiny_encoder):
    nlp = _pipeline(tiny_encoder)
    nlp.initialize(lambda: _examples(nlp, reference_docs(nlp)))
    with pytest.raises(ValueError, match="E308.*'TREATS'"):
        nlp.get_pipe("clintiny_rel").add_label("TREATS")


def test_gold_relations_are_validated(nlp):
    doc = nlp.make_doc("aspirin caused rash")
    set_gold_relations(doc, [(0, 7, 15, 19, "DRUG_AE")])
    assert get_gold_relations(doc) == [{"head": [0, 7], "tail": [15, 19], "label": "DRUG_AE"}]
    with pytest.raises(ValueError, match=r"E305.*tail offsets \[15, 40\].*length 19"):
        set_gold_relations(doc, [{"head": [0, 7], "tail": [15, 40], "label": "DRUG_AE"}])
    with pytest.raises(ValueError, match=r"E304.*keys are \['head', 'label'\]"):
        set_gold_relations(doc, [{"head": [0, 7], "label": "DRUG_AE"}])
    with pytest.raises(ValueError, match="E304.*label"):
        set_gold_relations(doc, [(0, 7, 15, 19, "")])
    with pytest.raises(TypeError, match="E306"):
        doc._.clintiny_rels = [("aspirin", "rash")]
    other = nlp.make_doc("aspirin caused rash")
    with pytest.raises(ValueError, match="E307"):
        doc._.clintiny_rels = [Relation(head=other[0:1], tail=doc[2:3], label="DRUG_AE", score=1.0)]


def test_given_label_missing_from_the_examples_is_kept_with_a_warning(tiny_encoder):
    nlp = _pipeline(tiny_encoder)
    examples = _examples(nlp, reference_docs(nlp))
    # as `[initialize.components.clintiny_rel] labels = ...` in a training config
    nlp.config["initialize"]["components"]["clintiny_rel"] = {"labels": ["DRUG_AE", "TREATS"]}
    with pytest.warns(UserWarning, match=r"W103.*\['TREATS'\]"):
        nlp.initialize(lambda: examples)
    assert nlp.get_pipe("clintiny_rel").labels == ("DRUG_AE", "TREATS")


def test_negative_sampling_keeps_every_related_pair(tiny_encoder):
    nlp = _pipeline(tiny_encoder, negative_ratio=1)
    examples = _examples(nlp, reference_docs(nlp))
    nlp.initialize(lambda: examples)
    rel = nlp.get_pipe("clintiny_rel")
    numpy.random.seed(0)
    for eg in examples:
        cands = rel._gold_candidates(eg)
        sampled = rel._sample_negatives(eg, cands)
        related = {
            ((cands.spans[h].start, cands.spans[h].end), (cands.spans[t].start, cands.spans[t].end))
            for h, t in cands.pairs
        } & {
            (
                (eg.predicted.char_span(hs, he).start, eg.predicted.char_span(hs, he).end),
                (eg.predicted.char_span(ts, te).start, eg.predicted.char_span(ts, te).end),
            )
            for hs, he, ts, te, _ in gold_relation_keys(eg.reference)
        }
        kept = {
            ((sampled.spans[h].start, sampled.spans[h].end), (sampled.spans[t].start, sampled.spans[t].end))
            for h, t in sampled.pairs
        }
        assert related <= kept
        assert set(sampled.pairs) <= set(cands.pairs)
        n_neg = len(cands.pairs) - len(related)
        assert len(kept) - len(related) == min(n_neg, max(1, len(related)))
    # the doc with 4 entities: 12 candidate pairs, 2 related -> 2 related + 2 unrelated
    assert len(rel._sample_negatives(examples[3], rel._gold_candidates(examples[3])).pairs) == 4
    # the loss (on a fresh sample each step) falls with sampling too
    optimizer = nlp.initialize(lambda: examples)
    history = [nlp.update(examples, sgd=optimizer, drop=0.0)["clintiny_rel"] for _ in range(30)]
    assert numpy.mean(history[-5:]) < 0.5 * numpy.mean(history[:5])
    with pytest.raises(ValueError, match="E300.*negative_ratio"):
        _pipeline(tiny_encoder, negative_ratio=-1)


def test_predicted_spans_overlapping_no_gold_entity_train_as_negatives(tiny_encoder):
    text = "Started aspirin and developed a rash with fever ; bleeding resolved ."
    ents = [("aspirin", "DRUG", "concepts"), ("rash", "AE", "concepts")]
    ref = make_doc(spacy.blank("en"), text, ents, [("aspirin", "rash", "DRUG_AE")])

    def example(nlp, rels=True):
        reference = ref if rels else make_doc(nlp, text, ents, None)
        pred = nlp.make_doc(text)
        # the concept head's output: "a rash" overlaps a gold entity, "fever" and "bleeding" none
        pred.spans["concepts"] = [
            pred.char_span(text.index(w), text.index(w) + len(w), label="AE") for w in ("a rash", "fever", "bleeding")
        ]
        return Example(pred, reference)

    plain = _pipeline(tiny_encoder)
    with_pred = _pipeline(tiny_encoder, negatives_from=["concepts"])
    for nlp in (plain, with_pred):
        nlp.initialize(lambda nlp=nlp: [example(nlp)])
    eg = example(with_pred)
    rel = with_pred.get_pipe("clintiny_rel")
    cands = rel._gold_candidates(eg)
    assert [s.text for s in cands.spans] == ["aspirin", "rash", "fever", "bleeding"]
    assert len(cands.pairs) == 12
    truths, mask = rel._gold([eg], [cands])
    related = [(cands.spans[h].text, cands.spans[t].text) for k, (h, t) in enumerate(cands.pairs) if truths[k].any()]
    assert related == [("aspirin", "rash")] and mask.all()
    # off by default: gold entities only; and a doc not annotated for relations gets no candidates
    assert [s.text for s in plain.get_pipe("clintiny_rel")._gold_candidates(example(plain)).spans] == [
        "aspirin",
        "rash",
    ]
    assert rel._gold_candidates(example(with_pred, rels=False)).pairs == []
    assert truths.shape[0] == 12  # the extra negatives enter the loss: 12 pairs, not 2
    with pytest.raises(ValueError, match="E300.*negatives_from"):
        _pipeline(tiny_encoder, negatives_from=[""])


def test_reinitialize_with_another_label_set(tiny_encoder):
    nlp = _pipeline(tiny_encoder)
    examples = _examples(nlp, reference_docs(nlp))
    nlp.initialize(lambda: examples)
    rel = nlp.get_pipe("clintiny_rel")
    assert rel.labels == ("DRUG_AE", "DRUG_DOSE")
    rel.initialize(lambda: examples, nlp=nlp, labels=["DRUG_DOSE"])
    probs = rel.predict([nlp(examples[0].reference.text)])[1]
    assert rel.labels == ("DRUG_DOSE",) and probs.shape[1] == 1


def test_sampled_training_is_corrected_at_prediction_by_the_kept_fraction(tiny_encoder, tmp_path):
    nlp = _pipeline(tiny_encoder, negative_ratio=1, prior_correction=True)
    examples = _examples(nlp, reference_docs(nlp))
    optimizer = nlp.initialize(lambda: examples)
    rel = nlp.get_pipe("clintiny_rel")
    assert rel.prior_offset == 0.0  # nothing sampled yet
    numpy.random.seed(0)
    n_unrelated = sum(len(rel._gold_candidates(eg).pairs) - len(gold_relation_keys(eg.reference)) for eg in examples)
    n_kept = sum(
        len(rel._sample_negatives(eg, rel._gold_candidates(eg)).pairs) - len(gold_relation_keys(eg.reference))
        for eg in examples
    )
    assert (rel.cfg["negatives_seen"], rel.cfg["negatives_kept"]) == (n_unrelated, n_kept)
    assert 0 < n_kept < n_unrelated
    for _ in range(3):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    q = rel.cfg["negatives_kept"] / rel.cfg["negatives_seen"]
    assert rel.cfg["negatives_seen"] == 4 * n_unrelated
    assert rel.prior_offset == pytest.approx(numpy.log(q))
    # predicted probabilities are the model's logits shifted by log(q)
    docs = [nlp(eg.reference.text) for eg in examples[:2]]
    for doc, eg in zip(docs, examples[:2]):
        for key in KEYS:
            doc.spans[key] = [doc.char_span(s.start_char, s.end_char, label=s.label_) for s in eg.reference.spans[key]]
    cands, probs = rel.predict(docs)
    logits = rel.model.predict((docs, cands))
    assert numpy.asarray(probs) == pytest.approx(1 / (1 + numpy.exp(-(numpy.asarray(logits) + numpy.log(q)))), abs=1e-6)
    # the counts travel with the component; initialize starts them again
    nlp.to_disk(tmp_path / "rel")
    assert spacy.load(tmp_path / "rel").get_pipe("clintiny_rel").prior_offset == pytest.approx(rel.prior_offset)
    nlp.initialize(lambda: examples)
    assert rel.prior_offset == 0.0


def test_prior_correction_is_off_by_default(tiny_encoder):
    nlp = _pipeline(tiny_encoder, negative_ratio=1)
    examples = _examples(nlp, reference_docs(nlp))
    optimizer = nlp.initialize(lambda: examples)
    nlp.update(examples, sgd=optimizer, drop=0.0)
    rel = nlp.get_pipe("clintiny_rel")
    assert 0 < rel.cfg["negatives_kept"] < rel.cfg["negatives_seen"]  # counted all the same
    assert rel.prior_offset == 0.0


def test_pairs_stored_by_index_read_back_as_relations_with_their_keys(nlp):
    from spacy_clintiny.relations import predicted_relation_keys, set_predicted_pairs

    doc = nlp("Aspirin caused a rash , not  a cough .")
    spans = [Span(doc, 0, 1, label="DRUG"), Span(doc, 3, 4, label="ADE"), Span(doc, 8, 9, label="ADE")]
    assert predicted_relation_keys(doc) is None  # no extractor has run
    set_predicted_pairs(doc, spans, [(0, 1, "CAUSES", numpy.float32(0.75)), (0, 2, "CAUSES", 0.5)])
    rels = doc._.clintiny_rels
    assert [(r.head, r.tail, r.label, r.score) for r in rels] == [
        (spans[0], spans[1], "CAUSES", 0.75),
        (spans[0], spans[2], "CAUSES", 0.5),
    ]
    assert predicted_relation_keys(doc) == [r.key for r in rels]
    doc._.clintiny_rels = rels  # the setter stores the same records
    assert predicted_relation_keys(doc) == [r.key for r in rels]
