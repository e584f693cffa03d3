"""Helpers shared by the pipeline tests (importable as ``helpers``: setup.cfg puts tests/ on
the path)."""
from spacy.training import Example


def span_examples(nlp, data, key):
    """Examples from ``(text, [(start_char, end_char, label), ...])`` items; the reference
    carries the spans in span group ``key`` (no span group when ``key`` is None)."""
    examples = []
    for text, spans in data:
        ref = nlp.make_doc(text)
        if key is not None:
            ref.spans[key] = [ref.char_span(s, e, label=label) for s, e, label in spans]
        examples.append(Example(nlp.make_doc(text), ref))
    return examples


def add_tiny_encoder(nlp, tiny_encoder, **model_config):
    """Add a ``clintiny_encoder`` over the tiny test BERT (window 32, stride 24)."""
    config = {"name": str(tiny_encoder), "window": 32, "stride": 24, **model_config}
    return nlp.add_pipe("clintiny_encoder", config={"model": config})


def fit(nlp, examples, n_updates=60):
    """Initialize ``nlp`` on ``examples`` and update it ``n_updates`` times on the whole set."""
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(n_updates):
        nlp.update(examples, sgd=optimizer)
    return optimizer
