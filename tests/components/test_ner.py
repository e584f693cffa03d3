"""clintiny_ner: tag scheme and decoding, partial-annotation loss, errors, overfitting through
a real `spacy train` config, and long notes."""

import warnings

import numpy
import pytest
import spacy
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from thinc.api import Model

from helpers import encoder_config, span_examples
from spacy_clintiny.components.tag_scheme import MISSING, TagScheme

PHI_DATA = [
    ("John Smith was seen at Boston clinic on Monday.", [(0, 10, "NAME"), (23, 29, "LOCATION")]),
    ("Mary Jones reports chest pain.", [(0, 10, "NAME")]),
    ("Dr Jones admitted the patient to Boston hospital.", [(3, 8, "NAME"), (33, 49, "LOCATION")]),
    ("The patient denies fever.", []),
    ("Mrs Smith called the clinic in Boston.", [(4, 9, "NAME"), (31, 37, "LOCATION")]),
    ("Plan: aspirin daily, follow up with Dr Smith.", [(39, 44, "NAME")]),
]


def make_examples(nlp, data=PHI_DATA, key="phi"):
    return span_examples(nlp, data, key)


def make_pipeline(nlp, tiny_encoder, **ner_config):
    nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(tiny_encoder), "window": 32, "stride": 24}})
    nlp.add_pipe("clintiny_ner", name="ner", config={"spans_key": "phi", **ner_config})
    return nlp


# ---------------------------------------------------------------- tag scheme


@pytest.mark.parametrize("scheme", ["BILUO", "BIO"])
def test_decode_only_produces_valid_sequences(scheme):
    tags = TagScheme(["A", "B"], scheme)
    rng = numpy.random.default_rng(0)
    n_spans = 0
    for _ in range(200):
        probs = rng.dirichlet(numpy.ones(len(tags)) * 0.3, size=int(rng.integers(1, 12)))
        path = tags.decode(probs)
        assert tags.start_ok[path[0]]
        assert tags.end_ok[path[-1]]
        assert all(tags.allowed[a, b] for a, b in zip(path[:-1], path[1:]))
        # round trip: spans -> gold tags -> the same path
        spans = tags.to_spans(path)
        assert list(tags.gold_tags(len(path), spans)) == list(path)
        n_spans += len(spans)
    assert n_spans > 100  # the round trip was tested on paths with entities, not only on all-O paths


def test_decode_beats_greedy_when_greedy_is_invalid():
    tags = TagScheme(["X"], "BILUO")
    probs = numpy.full((2, len(tags)), 0.01)
    probs[0, tags.index["I-X"]] = 0.6  # greedy: I-X L-X (invalid start)
    probs[0, tags.index["B-X"]] = 0.3
    probs[1, tags.index["L-X"]] = 0.9
    path = [tags.tags[i] for i in tags.decode(probs)]
    assert path == ["B-X", "L-X"]


@pytest.mark.parametrize("scheme", ["BILUO", "BIO"])
def test_decode_shortcut_is_viterbi(scheme):
    """A valid best-per-token sequence is returned without the Viterbi loop: the same path."""
    tags = TagScheme(["A", "B"], scheme)
    rng = numpy.random.default_rng(1)
    shortcuts = 0
    for _ in range(300):
        n = int(rng.integers(1, 15))
        probs = rng.dirichlet(numpy.ones(len(tags)) * 0.3, size=n)
        probs[rng.random(n) < 0.7, tags.index["O"]] += 5.0  # mostly O, as in notes
        logp = numpy.log(numpy.maximum(probs, 1e-30))
        greedy = logp.argmax(axis=1)
        full = tags.viterbi(logp)
        assert list(tags.decode(probs)) == list(full)
        shortcuts += list(full) == list(greedy)
    assert 30 < shortcuts < 290  # both paths of decode were taken


def test_whitespace_tokens_never_begin_or_end_an_entity():
    tags = TagScheme(["X"], "BILUO")
    probs = numpy.full((3, len(tags)), 0.01)
    probs[:, tags.index["U-X"]] = 0.9
    path = tags.decode(probs, inner_only=numpy.asarray([False, True, False]))
    assert tags.tags[path[1]] in ("O", "I-X")


# ---------------------------------------------------------------- loss


def test_loss_ignores_docs_without_the_key_and_counts_empty_groups(nlp, tiny_encoder):
    make_pipeline(nlp, tiny_encoder)
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    ner = nlp.get_pipe("ner")
    unannotated = Example(nlp.make_doc("John Smith denies pain."), nlp.make_doc("John Smith denies pain."))
    empty_ref = nlp.make_doc("John Smith denies pain.")
    empty_ref.spans["phi"] = []
    empty = Example(nlp.make_doc("John Smith denies pain."), empty_ref)
    rng = numpy.random.default_rng(0)

    def probs_for(egs):
        return [rng.dirichlet(numpy.ones(len(ner.tag_scheme)), size=len(eg.x)).astype("float32") for eg in egs]

    base = probs_for(examples)
    extra = probs_for([unannotated])
    loss_a, grad_a = ner.get_loss(examples, base)
    loss_b, grad_b = ner.get_loss(examples + [unannotated], base + extra)
    assert loss_b == pytest.approx(loss_a, rel=1e-6)
    for ga, gb in zip(grad_a, grad_b):
        numpy.testing.assert_allclose(ga, gb, rtol=1e-6, atol=1e-8)
    assert not grad_b[-1].any()
    loss_c, grad_c = ner.get_loss(examples + [empty], base + extra)
    assert loss_c != pytest.approx(loss_a, rel=1e-3)
    assert grad_c[-1].any()


def test_partial_annotation_by_label_masks_only_the_labels_a_corpus_does_not_annotate(nlp, tiny_encoder):
    # an NCBI-like doc annotates NAME only: its O tokens are negatives for NAME, not for LOCATION
    make_pipeline(nlp, tiny_encoder)
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    ner, tags = nlp.get_pipe("ner"), nlp.get_pipe("ner").tag_scheme
    full, partial = make_examples(nlp)[0], make_examples(nlp)[0]  # "John Smith was seen at Boston clinic ..."
    partial.reference.spans["phi"] = [s for s in partial.reference.spans["phi"] if s.label_ == "NAME"]
    partial.reference.spans["phi"].attrs["annotated_labels"] = ["NAME"]
    probs = numpy.random.default_rng(1).dirichlet(numpy.ones(len(tags)), size=len(full.x)).astype("float32")
    loss_full, (grad_full,) = ner.get_loss([full], [probs])
    loss_part, (grad_part,) = ner.get_loss([partial], [probs])
    loc_tags = tags.tags_of(["LOCATION"])
    boston = 5  # token 5 is "Boston": gold U-LOCATION in full, only "not a NAME" in partial
    n = len(full.x)
    # the name tokens keep their exact targets and gradients
    numpy.testing.assert_allclose(grad_part[:2], grad_full[:2], rtol=1e-6)
    # on an O token the target is {O} + the LOCATION tags: hand-computed loss and gradient
    allowed = numpy.zeros(len(tags), dtype=bool)
    allowed[[tags.index["O"], *loc_tags]] = True
    mass = probs[boston, allowed].sum()
    expected = probs[boston] - probs[boston] * allowed / mass
    numpy.testing.assert_allclose(grad_part[boston], expected / n, rtol=1e-5, atol=1e-7)
    # nothing in the set is pushed down (a descent step raises O and LOCATION alike), while the
    # fully annotated doc pushes O down on "Boston"
    assert (grad_part[boston, allowed] <= 0).all() and grad_full[boston, tags.index["O"]] > 0
    # the loss over the O tokens is -log p(set) <= -log p(O): partial labels never add loss
    assert loss_part < loss_full
    # attrs listing every label behave exactly like the plain group
    every = make_examples(nlp)[0]
    every.reference.spans["phi"].attrs["annotated_labels"] = ["LOCATION", "NAME"]
    loss_all, (grad_all,) = ner.get_loss([every], [probs])
    assert loss_all == pytest.approx(loss_full, rel=1e-6)
    numpy.testing.assert_allclose(grad_all, grad_full, rtol=1e-6)


def test_a_doc_is_scored_only_on_the_labels_its_corpus_annotates(nlp, tiny_encoder):
    make_pipeline(nlp, tiny_encoder)
    examples = make_examples(nlp)[:1]  # gold NAME "John Smith", LOCATION "Boston"
    nlp.initialize(lambda: examples)
    eg = examples[0]
    eg.reference.spans["phi"] = [s for s in eg.reference.spans["phi"] if s.label_ == "NAME"]
    eg.predicted.spans["phi"] = [
        eg.predicted.char_span(0, 10, label="NAME"),
        eg.predicted.char_span(23, 29, label="LOCATION"),  # true, but this corpus has no places
    ]
    ner = nlp.get_pipe("ner")
    assert ner.score([eg])["spans_phi_p"] == pytest.approx(0.5)  # no declaration: a false positive
    eg.reference.spans["phi"].attrs["annotated_labels"] = ["NAME"]
    scores = ner.score([eg])
    assert scores["spans_phi_p"] == 1.0 and scores["spans_phi_r"] == 1.0
    assert len(eg.predicted.spans["phi"]) == 2  # the example's own predictions are untouched


def test_misaligned_gold_tokens_are_missing(nlp, tiny_encoder):
    make_pipeline(nlp, tiny_encoder)
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    ner = nlp.get_pipe("ner")
    ref = nlp.make_doc("Johnsmith was seen.")
    ref.spans["phi"] = [ref.char_span(0, 9, label="NAME")]
    pred = Doc(nlp.vocab, words=["John", "smith", "was", "seen", "."], spaces=[False, True, True, False, False])
    gold, _ = ner._gold_tag_ids(Example(pred, ref))
    assert list(gold[:2]) == [ner.tag_scheme.index["B-NAME"], ner.tag_scheme.index["L-NAME"]]
    # a gold span that starts inside a predicted token cannot be tagged: those tokens get no loss
    ref2 = Doc(
        nlp.vocab, words=["J", "ohn", "smith", "was", "seen", "."], spaces=[False, True, True, True, False, False]
    )
    ref2.spans["phi"] = [Span(ref2, 1, 3, label="NAME")]
    gold2, _ = ner._gold_tag_ids(Example(nlp.make_doc("John smith was seen."), ref2))
    assert list(gold2) == [MISSING, MISSING, 0, 0, 0]


def test_overlapping_gold_spans_are_filtered_and_counted(nlp, tiny_encoder):
    make_pipeline(nlp, tiny_encoder)
    examples = make_examples(nlp)
    ref = examples[0].reference
    ref.spans["phi"] = list(ref.spans["phi"]) + [ref.char_span(5, 10, label="NAME")]
    with pytest.warns(UserWarning, match="W100"):
        nlp.initialize(lambda: examples)
    assert nlp.get_pipe("ner").n_overlaps_dropped == 1


# ---------------------------------------------------------------- errors


def test_unknown_spans_key_names_the_keys_that_exist(nlp, tiny_encoder):
    make_pipeline(nlp, tiny_encoder, spans_key="concepts")
    with pytest.raises(ValueError, match=r"E101.*'concepts'.*\['phi'\]"):
        nlp.initialize(lambda: make_examples(nlp))


def test_scoring_without_the_key_warns_and_gives_none(nlp, tiny_encoder):
    make_pipeline(nlp, tiny_encoder)
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    other = make_examples(nlp, key="concepts")
    with pytest.warns(UserWarning, match=r"W101.*'phi'.*\['concepts'\]"):
        scores = nlp.get_pipe("ner").score(other)
    assert scores["spans_phi_f"] is None


def test_a_head_writing_ents_reports_spacy_evaluate_ner_keys(nlp, tiny_encoder):
    # `spacy evaluate` prints NER P/R/F from ents_p/r/f: a head that writes doc.ents gives them
    make_pipeline(nlp, tiny_encoder, write_ents=True)
    examples = make_examples(nlp)[:2]  # gold: NAME, LOCATION in doc 0; NAME in doc 1
    nlp.initialize(lambda: examples)
    examples[0].predicted.spans["phi"] = [examples[0].predicted.char_span(0, 10, label="NAME")]
    examples[1].predicted.spans["phi"] = [examples[1].predicted.char_span(11, 18, label="NAME")]
    scores = nlp.get_pipe("ner").score(examples)
    assert scores["ents_p"] == pytest.approx(0.5)  # 1 of 2 predicted spans is right
    assert scores["ents_r"] == pytest.approx(1 / 3)  # 1 of 3 gold spans is found
    assert scores["ents_f"] == scores["spans_phi_f"] == pytest.approx(0.4)
    assert scores["ents_per_type"]["LOCATION"]["r"] == 0.0
    nlp.get_pipe("ner").cfg["write_ents"] = False
    assert "ents_f" not in nlp.get_pipe("ner").score(examples)  # doc.ents belong to another head


def test_label_never_seen_in_training(nlp, tiny_encoder):
    # spaCy shows initialize only 100 examples of a streamed corpus: a given label that
    # they lack is kept, with a warning that names it
    make_pipeline(nlp, tiny_encoder)
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    with pytest.warns(UserWarning, match=r"W103.*\['AGE'\]"):
        nlp.get_pipe("ner").initialize(lambda: examples, nlp=nlp, labels=["NAME", "AGE"])
    ner = nlp.get_pipe("ner")
    assert ner.labels == ("NAME", "AGE")
    assert ner.add_label("NAME") == 0
    with pytest.raises(ValueError, match="E104.*'CONTACT'"):
        ner.add_label("CONTACT")


def test_add_label_before_initialize_is_kept_with_a_warning(nlp, tiny_encoder):
    make_pipeline(nlp, tiny_encoder)
    nlp.get_pipe("ner").add_label("CONTACT")
    with pytest.warns(UserWarning, match=r"W103.*\['CONTACT'\]"):
        nlp.initialize(lambda: make_examples(nlp))
    assert "CONTACT" in nlp.get_pipe("ner").labels


def test_explicit_labels_restrict_the_head(nlp, tiny_encoder):
    make_pipeline(nlp, tiny_encoder)
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    nlp.get_pipe("ner").initialize(lambda: examples, nlp=nlp, labels=["NAME"])
    ner = nlp.get_pipe("ner")
    assert ner.labels == ("NAME",)
    gold, _ = ner._gold_tag_ids(examples[0])
    assert ner.tag_scheme.tags[gold[6]] == "O"  # "Boston" (LOCATION) is not this head's label


def test_no_encoder_upstream(nlp, tiny_encoder):
    nlp.add_pipe("clintiny_ner", name="ner", config={"spans_key": "phi"})
    with pytest.raises(ValueError, match="E004.*'ner'"):
        nlp.initialize(lambda: make_examples(nlp))


def test_encoder_after_the_head_is_no_upstream(nlp, tiny_encoder):
    nlp.add_pipe("clintiny_ner", name="ner", config={"spans_key": "phi"})
    nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(tiny_encoder)}})
    with pytest.raises(ValueError, match="E004.*'ner'"):
        nlp.initialize(lambda: make_examples(nlp))


def test_encoder_not_run_is_an_error_not_zeros(nlp, tiny_encoder):
    make_pipeline(nlp, tiny_encoder)
    nlp.initialize(lambda: make_examples(nlp))
    with pytest.raises(ValueError, match="E004"):
        nlp.get_pipe("ner")(nlp.make_doc("John Smith"))


def test_bad_scheme_and_label():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="E100.*'IOB2'"):
        nlp.add_pipe("clintiny_ner", config={"scheme": "IOB2"})
    ner = nlp.add_pipe("clintiny_ner")
    with pytest.raises(ValueError, match="E005.*''"):
        ner.add_label("")


# ---------------------------------------------------------------- predictions


def test_two_heads_and_ents(nlp, tiny_encoder):
    make_pipeline(nlp, tiny_encoder, write_ents=True)
    nlp.add_pipe("clintiny_ner", name="ner_concepts", config={"spans_key": "concepts", "write_ents": True})
    concept_data = [
        ("Patient denies chest pain and fever.", [(15, 25, "PROBLEM"), (30, 35, "PROBLEM")]),
        ("Started aspirin for chest pain.", [(8, 15, "TREATMENT"), (20, 30, "PROBLEM")]),
    ]
    examples = make_examples(nlp) + make_examples(nlp, concept_data, key="concepts")
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(60):
        nlp.update(examples, sgd=optimizer)
    doc = nlp("John Smith reports chest pain.")
    assert [(s.text, s.label_) for s in doc.spans["phi"]] == [("John Smith", "NAME")]
    assert ("chest pain", "PROBLEM") in [(s.text, s.label_) for s in doc.spans["concepts"]]
    assert len(doc.spans["phi"].attrs["scores"]) == len(doc.spans["phi"])
    token_scores = doc.spans["phi"].attrs["token_scores"]
    assert len(token_scores) == len(doc) and min(token_scores[:2]) > max(token_scores[2:])  # the name, not the rest
    assert {(e.text, e.label_) for e in doc.ents} >= {("John Smith", "NAME"), ("chest pain", "PROBLEM")}


def test_outside_weight_trades_precision_for_recall():
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("clintiny_ner", config={"spans_key": "phi"})
    ner.add_label("NAME")
    scheme = ner.tag_scheme
    doc = nlp.make_doc("seen by Smith today")
    probs = numpy.zeros((len(doc), len(scheme)), dtype="float32")
    probs[:, scheme.index["O"]] = 1.0
    probs[2, scheme.index["O"]] = 0.6  # "Smith": a NAME at 0.4, below the O tag
    probs[2, scheme.index["U-NAME"]] = 0.4
    ner.set_annotations([doc], [probs])
    assert list(doc.spans["phi"]) == []
    ner.cfg["outside_weight"] = 0.5  # O counts 0.3 < 0.4: the name is found
    ner.set_annotations([doc], [probs])
    assert [(s.text, s.label_) for s in doc.spans["phi"]] == [("Smith", "NAME")]
    assert doc.spans["phi"].attrs["scores"] == [pytest.approx(0.4)]  # confidence from the unweighted probabilities
    # per token: 1 - P(O), unweighted, whether or not a span was decoded there
    assert doc.spans["phi"].attrs["token_scores"] == pytest.approx([0.0, 0.0, 0.4, 0.0])
    for i, bad in enumerate((-1, 0)):  # the same rule as clintiny deid --outside-weight (E762)
        with pytest.raises(ValueError, match=f"E110.*{bad}"):
            nlp.add_pipe("clintiny_ner", name=f"bad{i}", config={"outside_weight": bad})


def test_write_ents_keeps_earlier_ents_unless_overwrite(nlp, tiny_encoder):
    make_pipeline(nlp, tiny_encoder, write_ents=True)
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(40):
        nlp.update(examples, sgd=optimizer)
    ner = nlp.get_pipe("ner")
    doc = nlp.make_doc("John Smith was seen.")
    doc.ents = [Span(doc, 1, 2, label="OTHER")]
    ner._write_ents(doc, [Span(doc, 0, 2, label="NAME")])
    assert [(e.text, e.label_) for e in doc.ents] == [("Smith", "OTHER")]
    ner.cfg["overwrite_ents"] = True
    ner._write_ents(doc, [Span(doc, 0, 2, label="NAME")])
    assert [(e.text, e.label_) for e in doc.ents] == [("John Smith", "NAME")]


# ---------------------------------------------------------------- overfit with `spacy train`

TRAIN_CFG = (
    encoder_config(["clintiny_encoder", "ner_phi"], window=32, stride=24, batch_size=8)
    + """
[components.ner_phi]
factory = "clintiny_ner"
spans_key = "phi"
write_ents = true

[components.ner_phi.model]
@architectures = "spacy-clintiny.TokenClassifier.v1"
hidden_width = 32

[components.ner_phi.model.tok2vec]
@architectures = "spacy-transformers.TransformerListener.v1"
upstream = "*"

[components.ner_phi.model.tok2vec.pooling]
@layers = "reduce_mean.v1"

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${paths.train}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${paths.dev}

[training]
seed = ${system.seed}
gpu_allocator = ${system.gpu_allocator}
max_steps = 150
eval_frequency = 50
dropout = 0.0
patience = 0

[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = 0.001

[training.batcher]
@batchers = "spacy.batch_by_sequence.v1"
size = 8

[training.score_weights]
spans_phi_f = 1.0
spans_sc_f = null
spans_sc_p = null
spans_sc_r = null
"""
)


def test_overfit_through_spacy_train(tmp_path, tiny_encoder):
    from spacy.cli.train import train

    nlp = spacy.blank("en")
    db = DocBin(store_user_data=True)
    for eg in make_examples(nlp):
        db.add(eg.reference)
    db.to_disk(tmp_path / "train.spacy")
    (tmp_path / "config.cfg").write_text(TRAIN_CFG)
    overrides = {
        "paths.train": str(tmp_path / "train.spacy"),
        "paths.dev": str(tmp_path / "train.spacy"),
        "paths.encoder": str(tiny_encoder),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        train(tmp_path / "config.cfg", tmp_path / "out", overrides=overrides)
        trained = spacy.load(tmp_path / "out" / "model-last")
        examples = [Example(trained(eg.x.text), eg.y) for eg in make_examples(trained)]
        scores = trained.evaluate(make_examples(trained))
    print("overfit spans_phi_f", scores["spans_phi_f"])
    assert scores["spans_phi_f"] >= 0.9
    assert all(eg.x.ents == tuple(eg.x.spans["phi"]) for eg in examples)


# ---------------------------------------------------------------- long notes


def test_end_of_a_long_note_gets_the_same_predictions_as_its_start(nlp, tiny_encoder):
    # 24 tokens = the encoder stride: every window starts at a paragraph start, so the note
    # is made of three window contexts (first, middle, last), all seen in training
    paragraph = (
        "John Smith was seen at Boston clinic on Monday. "
        "The patient denies fever, cough and chest pain after a long walk. "
    )
    gold = [(0, 10, "NAME"), (23, 29, "LOCATION")]
    length = len(paragraph)
    make_pipeline(nlp, tiny_encoder)
    assert len(nlp.make_doc(paragraph)) == 24
    data = [
        ((paragraph * k).strip(), [(i * length + s, i * length + e, label) for i in range(k) for s, e, label in gold])
        for k in (1, 2, 3)
    ]
    examples = make_examples(nlp, data)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(60):
        nlp.update(examples, sgd=optimizer)
    repeats = 5000 // len(paragraph.split()) + 1
    doc = nlp(paragraph * repeats)
    assert len(doc.text.split()) >= 5000

    def spans_in(i):
        lo, hi = i * length, (i + 1) * length
        return [(s.start_char - lo, s.end_char - lo, s.label_) for s in doc.spans["phi"] if lo <= s.start_char < hi]

    assert spans_in(0) == gold
    assert spans_in(repeats - 1) == gold
    assert [i for i in range(repeats) if spans_in(i) != gold] == []


@pytest.mark.parametrize("factory", ["clintiny_ner", "clintiny_textcat", "clintiny_rel"])
def test_every_head_rejects_a_label_that_is_not_a_string_with_one_message(factory):
    head = spacy.blank("en").add_pipe(factory)
    with pytest.raises(ValueError, match=r"E005.*labels must be non-empty strings, got 3 of type int"):
        head.add_label(3)
    assert head.add_label("OK") == 1 and head.add_label("OK") == 0


def test_a_batch_and_a_long_doc_are_predicted_in_bounded_runs_with_the_same_scores(nlp, tiny_encoder, monkeypatch):
    from spacy_clintiny.components import _common

    make_pipeline(nlp, tiny_encoder)
    examples = make_examples(nlp)
    nlp.initialize(lambda: examples)
    texts = [text for text, _ in PHI_DATA] + ["", "Seen by Dr Smith. " * 40]
    docs = list(nlp.pipe(texts, disable=["ner"]))
    head = nlp.get_pipe("ner")
    whole = head.predict(docs)
    calls = []
    predict = Model.predict

    def counted(model, run):
        if model is head.model:
            calls.append(sum(map(len, run)))
        return predict(model, run)

    monkeypatch.setattr(Model, "predict", counted)
    monkeypatch.setattr(_common, "PREDICT_TOKENS", 16)
    parts = head.predict(docs)
    assert max(calls) <= 16 and len(calls) > len(texts)  # the long doc in segments, the others in runs
    assert [p.shape for p in parts] == [w.shape for w in whole]
    for part, full in zip(parts, whole):
        numpy.testing.assert_allclose(part, full, rtol=1e-5, atol=1e-6)


def test_bf16_inference_scores_a_doc_alike_alone_and_in_a_batch_and_near_fp32(nlp, tiny_encoder, monkeypatch):
    from spacy_clintiny.architectures import _ops

    make_pipeline(nlp, tiny_encoder)
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(3):  # the output layer starts at zero
        nlp.update(examples, sgd=optimizer)
    texts = [text for text, _ in PHI_DATA] + ["Seen by Dr Smith. " * 12]
    docs = list(nlp.pipe(texts, disable=["ner"]))
    head = nlp.get_pipe("ner")
    monkeypatch.setenv(_ops.PRECISION_ENV, "fp32")
    exact = head.predict(docs)
    monkeypatch.setenv(_ops.PRECISION_ENV, "bf16")
    batch = head.predict(docs)
    for doc, scores, reference in zip(docs, batch, exact):
        numpy.testing.assert_array_equal(head.predict([doc])[0], scores)
        numpy.testing.assert_allclose(scores, reference, atol=0.02)
    assert any(not numpy.array_equal(a, b) for a, b in zip(batch, exact))
