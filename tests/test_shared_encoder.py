"""One encoder pass per batch for all heads, and heads that learn only from docs annotated
for them (partial annotation)."""

import numpy
import spacy

from helpers import add_tiny_encoder, span_examples

NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}

PHI = [
    ("John Smith was seen at Boston clinic.", [(0, 10, "NAME"), (23, 29, "LOCATION")]),
    ("Mary Jones reports chest pain.", [(0, 10, "NAME")]),
]
CONCEPTS = [
    ("Patient denies chest pain and fever.", [(15, 25, "PROBLEM"), (30, 35, "PROBLEM")]),
    ("Started aspirin for chest pain.", [(8, 15, "TREATMENT"), (20, 30, "PROBLEM")]),
]


def build(tiny_encoder, *, hidden_width=None):
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    add_tiny_encoder(nlp, tiny_encoder, transformer_config=NO_DROPOUT)
    head = {"@architectures": "spacy-clintiny.TokenClassifier.v1", "hidden_width": hidden_width, "dropout": 0.0}
    nlp.add_pipe("clintiny_ner", name="ner_phi", config={"spans_key": "phi", "model": head})
    nlp.add_pipe(
        "clintiny_ner", name="ner_concepts", config={"spans_key": "concepts", "write_ents": True, "model": head}
    )
    examples = span_examples(nlp, PHI, "phi") + span_examples(nlp, CONCEPTS, "concepts")
    nlp.initialize(lambda: examples)
    return nlp, examples


def count_hf_forwards(nlp):
    hf_model = nlp.get_pipe("clintiny_encoder").model.transformer
    calls = []
    handle = hf_model.register_forward_hook(lambda module, args, output: calls.append(1))
    return calls, handle


def test_one_encoder_forward_per_batch_for_all_heads(tiny_encoder):
    nlp, examples = build(tiny_encoder)
    calls, handle = count_hf_forwards(nlp)
    try:
        docs = list(nlp.pipe([eg.x.text for eg in examples], batch_size=len(examples)))
        assert len(calls) == 1
        assert all("phi" in doc.spans and "concepts" in doc.spans for doc in docs)
        calls.clear()
        nlp(examples[0].x.text)
        assert len(calls) == 1
        calls.clear()
        losses = {}
        nlp.update(examples, losses=losses)
        assert len(calls) == 1
        assert set(losses) >= {"ner_phi", "ner_concepts"}
    finally:
        handle.remove()


def head_loss_and_grads(nlp, name, examples):
    """Loss of head ``name`` and the gradients of its own parameters after one
    ``nlp.update`` without an optimizer step (dropout off everywhere)."""
    head = nlp.get_pipe(name)
    for node in head.model.walk():
        for param in node.param_names:
            if node.has_grad(param):
                node.set_grad(param, node.ops.alloc(node.get_grad(param).shape))
    losses = {}
    nlp.update(examples, sgd=False, drop=0.0, losses=losses)
    grads = {}
    for node in head.model.walk():
        for param in node.param_names:
            if node.has_grad(param):
                grads[f"{node.id}.{param}"] = node.ops.to_numpy(node.get_grad(param)).copy()
    return losses[name], grads


def test_unannotated_docs_change_neither_loss_nor_gradients(tiny_encoder):
    nlp, examples = build(tiny_encoder, hidden_width=16)
    optimizer = nlp.create_optimizer()
    for _ in range(3):  # move the zero-initialised output layer so every parameter gets a gradient
        nlp.update(examples, sgd=optimizer, drop=0.0)
    phi = span_examples(nlp, PHI, "phi")
    # docs annotated for the OTHER head only: no "phi" group at all
    no_phi = span_examples(nlp, CONCEPTS, "concepts")
    loss_a, grads_a = head_loss_and_grads(nlp, "ner_phi", phi)
    loss_b, grads_b = head_loss_and_grads(nlp, "ner_phi", phi + no_phi)
    assert loss_a > 0
    numpy.testing.assert_allclose(loss_b, loss_a, rtol=1e-5, atol=1e-7)
    assert grads_a.keys() == grads_b.keys() and grads_a
    for key in grads_a:
        assert numpy.abs(grads_a[key]).max() > 0
        numpy.testing.assert_allclose(grads_b[key], grads_a[key], rtol=1e-4, atol=1e-7)
    # an EMPTY "phi" group is annotation: those docs are true negatives and do count
    empty_phi = span_examples(nlp, [(t, []) for t, _ in CONCEPTS], "phi")
    loss_c, grads_c = head_loss_and_grads(nlp, "ner_phi", phi + empty_phi)
    assert abs(loss_c - loss_a) > 1e-4  # 5x the tolerance the equality above allows
    assert any(not numpy.allclose(grads_c[k], grads_a[k], rtol=1e-3, atol=1e-6) for k in grads_a)


def test_batch_of_only_unannotated_docs_gives_zero_loss_and_gradient(tiny_encoder):
    nlp, _ = build(tiny_encoder, hidden_width=16)
    loss, grads = head_loss_and_grads(nlp, "ner_phi", span_examples(nlp, CONCEPTS, "concepts"))
    assert loss == 0.0
    assert all(not g.any() for g in grads.values())


def test_one_encoder_forward_with_ner_textcat_and_rel(tiny_encoder):
    """The three kinds of head together still share one encoder pass, in inference and update."""
    from spacy_clintiny.relations import set_gold_relations

    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    add_tiny_encoder(nlp, tiny_encoder, transformer_config=NO_DROPOUT)
    nlp.add_pipe("clintiny_ner", name="ner_concepts", config={"spans_key": "concepts", "write_ents": True})
    nlp.add_pipe("clintiny_textcat", name="textcat", config={"exclusive_classes": False})
    nlp.add_pipe("clintiny_rel", name="rel", config={"spans_keys": ["concepts"]})
    examples = span_examples(nlp, CONCEPTS, "concepts")
    examples[0].reference.cats = {"NEGATED": 1.0}
    examples[1].reference.cats = {"NEGATED": 0.0}
    set_gold_relations(examples[0].reference, [])
    set_gold_relations(examples[1].reference, [(8, 15, 20, 30, "TrAP")])
    nlp.initialize(lambda: examples)
    calls, handle = count_hf_forwards(nlp)
    try:
        docs = list(nlp.pipe([eg.x.text for eg in examples], batch_size=len(examples)))
        assert len(calls) == 1
        assert all(doc.cats and doc._.clintiny_rels is not None for doc in docs)
        calls.clear()
        losses = {}
        nlp.update(examples, losses=losses)
        assert len(calls) == 1
        assert {"ner_concepts", "textcat", "rel"} <= set(losses)
    finally:
        handle.remove()
