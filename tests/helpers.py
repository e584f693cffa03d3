"""Helpers shared by the pipeline tests (importable as ``helpers``: setup.cfg puts tests/ on
the path)."""

import importlib.util
import io
import os
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.training.initialize import init_nlp
from spacy.training.loop import train
from spacy.util import load_config_from_str

ROOT = Path(__file__).resolve().parents[1]
# the public corpora mirror (see ../shared/data/README.md); CLINTINY_MIRROR points elsewhere
SHARED_DATA = Path(os.environ.get("CLINTINY_MIRROR", ROOT.parent / "shared" / "data"))


def bench_script(name: str):
    """The module of ``bench/<name>.py`` (bench scripts are not a package), for testing its functions."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def require_shared_data(*parts: str) -> Path:
    """A path in the public corpora mirror (``require_shared_data("physionet-deid", "id.text")``;
    no parts: the mirror folder). When it is missing the test is skipped, except under
    ``CI=true``, where it FAILS: CI must never report green without the real-data tests."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        reason = f"public corpus mirror not available: {path} (set CLINTINY_MIRROR or provide ../shared/data)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


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


def encoder_config(pipeline, *, window=48, stride=36, batch_size=16):
    """The opening of a training config shared by the head tests: ``[paths]`` (train, dev,
    encoder), ``[system]``, ``[nlp]`` with ``pipeline`` and a ``clintiny_encoder`` component
    named "clintiny_encoder" over ``${paths.encoder}``. The test appends its heads, corpora
    and training sections."""
    names = ", ".join(f'"{name}"' for name in pipeline)
    return f"""
[paths]
train = null
dev = null
encoder = null

[system]
seed = 0
gpu_allocator = null

[nlp]
lang = "en"
pipeline = [{names}]
batch_size = {batch_size}

[components]

[components.clintiny_encoder]
factory = "clintiny_encoder"

[components.clintiny_encoder.model]
@architectures = "spacy-clintiny.Encoder.v1"
name = ${{paths.encoder}}
window = {window}
stride = {stride}
"""


def train_with_spacy(config, tmp_path, encoder, docs, overrides=None):
    """Train the pipeline of ``config`` (a config string with ``paths.train``, ``paths.dev``
    and ``paths.encoder``) through the real ``spacy train`` machinery (init_nlp + training
    loop) on ``docs``, used as both training and dev set; return the trained pipeline."""
    path = tmp_path / "train.spacy"
    DocBin(docs=docs, store_user_data=True).to_disk(path)
    overrides = {"paths.train": str(path), "paths.dev": str(path), "paths.encoder": str(encoder), **(overrides or {})}
    nlp = init_nlp(load_config_from_str(config, overrides=overrides, interpolate=False))
    nlp, _ = train(nlp, None, stdout=io.StringIO(), stderr=io.StringIO())
    return nlp


def add_tiny_encoder(nlp, tiny_encoder, **model_config):
    """Add a ``clintiny_encoder`` over the tiny test BERT (window 32, stride 24)."""
    config = {"name": str(tiny_encoder), "window": 32, "stride": 24, **model_config}
    return nlp.add_pipe("clintiny_encoder", config={"model": config})


def phi_head_pipeline(tiny_encoder, model, **encoder_model_config):
    """A blank English pipeline: the tiny encoder (trainable; ``encoder_model_config`` overrides
    its window and stride) and a ``clintiny_ner`` head "ner_phi" writing span group "phi", with
    ``model`` (an architecture config without its tok2vec) listening to the encoder."""
    nlp = spacy.blank("en")
    add_tiny_encoder(nlp, tiny_encoder, **encoder_model_config)
    tok2vec = {
        "@architectures": "spacy-transformers.TransformerListener.v1",
        "grad_factor": 1.0,
        "upstream": "*",
        "pooling": {"@layers": "reduce_mean.v1"},
    }
    nlp.add_pipe("clintiny_ner", name="ner_phi", config={"spans_key": "phi", "model": {**model, "tok2vec": tok2vec}})
    return nlp


def fit(nlp, examples, n_updates=60):
    """Initialize ``nlp`` on ``examples`` and update it ``n_updates`` times on the whole set."""
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(n_updates):
        nlp.update(examples, sgd=optimizer)
    return optimizer


# a text head's token vectors: the listener to whichever encoder is upstream
TEXTCAT_LISTENER = {
    "@architectures": "spacy-transformers.TransformerListener.v1",
    "grad_factor": 1.0,
    "upstream": "*",
    "pooling": {"@layers": "reduce_mean.v1"},
}


def textcat_pipeline(encoder, *, arch="v2", window=48, stride=36, model=None, **textcat_cfg):
    """A blank pipeline: ``clintiny_encoder`` on ``encoder`` and a ``clintiny_textcat`` with
    ``spacy-clintiny.TextClassifier.<arch>`` (hidden width 16, no dropout, ``model`` settings
    on top) and the component settings ``textcat_cfg``."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("clintiny_encoder", config={"model": {"name": str(encoder), "window": window, "stride": stride}})
    config = {"@architectures": f"spacy-clintiny.TextClassifier.{arch}", "hidden_width": 16, "dropout": 0.0}
    config.update(model or {})
    config["tok2vec"] = TEXTCAT_LISTENER
    nlp.add_pipe("clintiny_textcat", config={"model": config, **textcat_cfg})
    return nlp


def cats_examples(nlp, items):
    """Examples from ``(text, cats)`` items; the reference carries the cats."""
    examples = []
    for text, cats in items:
        ref = nlp.make_doc(text)
        ref.cats = dict(cats)
        examples.append(Example(nlp.make_doc(text), ref))
    return examples


def regex_phi_nlp(name, pattern, label_of):
    """A blank pipeline whose only component is a stand-in PHI detector with known answers:
    every match of ``pattern`` becomes a ``doc.spans["phi"]`` span labelled
    ``label_of(text, match)``, detector "rule:test". ``name`` registers the component once."""
    from spacy.language import Language

    if not Language.has_factory(name):

        @Language.component(name)
        def detect(doc):
            spans = (
                doc.char_span(m.start(), m.end(), label=label_of(doc.text, m), span_id="rule:test")
                for m in pattern.finditer(doc.text)
            )
            doc.spans["phi"] = [span for span in spans if span is not None]
            return doc

    nlp = spacy.blank("en")
    nlp.add_pipe(name)
    return nlp


def cats_in_fresh_process(path, texts):
    """``doc.cats`` of ``texts`` from the pipeline at ``path`` loaded in a new Python process:
    per text, the scores in label order, rounded to 5 decimals."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys, spacy\n"
        f"nlp = spacy.load({str(path)!r})\n"
        "texts = json.loads(sys.stdin.read())\n"
        "print(json.dumps([[round(d.cats[k], 5) for k in sorted(d.cats)] for d in nlp.pipe(texts)]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(list(texts)), capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def rule_mentions(text, spans):
    """PhiMentions (source "rule") of ``(phrase, label)`` pairs found in order in ``text``."""
    from spacy_clintiny.deid.types import PhiMention

    out, pos = [], 0
    for phrase, label in spans:
        start = text.index(phrase, pos)
        out.append(PhiMention(start, start + len(phrase), label, "rule", 1.0, ""))
        pos = start + len(phrase)
    return out
