"""Spark test fixtures: one local[2] session for the whole run, a tiny saved pipeline and a few
hundred short synthetic notes. Without pyspark or Java the Spark tests are skipped, except under
``CI=true``, where they FAIL (see helpers.require_shared_data)."""

import random

import pytest
import spacy
from spacy.tokens import Span
from spacy.training import Example
from spark_support import make_note, require_spark

from helpers import add_tiny_encoder
from spacy_clintiny.relations import set_gold_relations

CONCEPTS = [
    {"label": "PROBLEM", "pattern": [{"LOWER": "chest"}, {"LOWER": "pain"}]},
    {"label": "PROBLEM", "pattern": [{"LOWER": "rash"}]},
    {"label": "PROBLEM", "pattern": [{"LOWER": "fever"}]},
    {"label": "TREATMENT", "pattern": [{"LOWER": "aspirin"}]},
]


@pytest.fixture(scope="session")
def spark():
    require_spark()
    from spacy_clintiny.spark import get_session

    conf = {
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.sql.execution.arrow.maxRecordsPerBatch": "64",
        "spark.driver.memory": "1g",
        "spark.ui.showConsoleProgress": "false",
    }
    session = get_session("local[2]", app_name="clintiny-tests", conf=conf, log_level="ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def notes():
    """300 short notes of 40 patients: (note_id, patient_id, text); a null and an empty text."""
    rng = random.Random(0)
    rows = [(f"n{i:03d}", f"p{i % 40:02d}", make_note(i, rng)) for i in range(300)]
    rows[7] = (rows[7][0], rows[7][1], None)
    rows[11] = (rows[11][0], rows[11][1], "")
    return rows


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory, tiny_encoder):
    """A saved tiny pipeline: sentencizer, span_ruler (concepts, also doc.ents), ConText, a tiny
    random encoder with a PHI head, a textcat and a relation head, and clintiny_deid (rules)."""
    nlp = spacy.blank("en")
    add_tiny_encoder(nlp, tiny_encoder)
    nlp.add_pipe("clintiny_ner", name="ner_phi", config={"spans_key": "phi"})
    nlp.add_pipe("clintiny_textcat", config={"model": {"hidden_width": 8, "dropout": 0.0}})
    rel_model = {"hidden_width": 8, "label_width": 4, "dropout": 0.0}
    nlp.add_pipe("clintiny_rel", config={"spans_keys": ["concepts"], "threshold": 0.05, "model": rel_model})
    text = "Pt John Smith started aspirin, then rash. Denies chest pain."
    ref = nlp.make_doc(text)
    ref.spans["phi"] = [Span(ref, 1, 3, label="NAME")]
    drug, effect, pain = (
        Span(ref, 4, 5, label="TREATMENT"),
        Span(ref, 7, 8, label="PROBLEM"),
        Span(ref, 10, 12, label="PROBLEM"),
    )
    ref.spans["concepts"] = [drug, effect, pain]
    ref.cats = {"CARDIO": 1.0, "DERMA": 0.0}
    set_gold_relations(ref, [(drug.start_char, drug.end_char, effect.start_char, effect.end_char, "DRUG_AE")])
    nlp.initialize(lambda: [Example(nlp.make_doc(text), ref)])
    nlp.add_pipe("sentencizer", first=True)
    ruler = nlp.add_pipe("span_ruler", after="sentencizer", config={"spans_key": "concepts", "annotate_ents": True})
    ruler.add_patterns(CONCEPTS)
    nlp.add_pipe("clintiny_context", after="span_ruler")
    nlp.add_pipe("clintiny_deid")
    path = tmp_path_factory.mktemp("spark_pipeline") / "tiny"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="session")
def serial_nlp(tiny_pipeline):
    """The tiny pipeline loaded in the test process: the serial reference."""
    return spacy.load(tiny_pipeline)


@pytest.fixture(scope="session")
def serial_deid_nlp(tiny_pipeline):
    """Its PHI-only form as ``clintiny deid`` loads it (``Deidentifier`` only sets an error
    handler on it, so tests can share it)."""
    from spacy_clintiny.deid.engine import load_deid_pipeline

    return load_deid_pipeline(str(tiny_pipeline))
