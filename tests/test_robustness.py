"""An inference path that behaves: tokenization linear in a note's length whatever its
content (and spaCy's tokens on ordinary text), notes over 1,000,000 characters, one clear
error naming the file for a missing, truncated or garbled pipeline folder, and no spurious
warnings at load or inference."""

import pickle
import random
import re
import shutil
import subprocess
import sys
import time

import pytest
import spacy
from thinc.api import Config
from typer.testing import CliRunner

from helpers import ROOT, add_tiny_encoder, require_shared_data
from spacy_clintiny.cli import app
from spacy_clintiny.cli.package import check_package
from spacy_clintiny.models import PipelineLoadError, check_pipeline_folder
from spacy_clintiny.tokenizer import BoundedTokenizer

NLP_SETTINGS = {
    "tokenizer": {"@tokenizers": "spacy-clintiny.Tokenizer.v1"},
    "after_creation": {"@callbacks": "spacy-clintiny.MaxLength.v1", "max_length": 2_000_000},
    "after_pipeline_creation": {"@callbacks": "spacy-clintiny.ClearLoadErrors.v1"},
}
CLINICAL = [
    "Pt is a 67 yo man seen 03/14/2021 at Mercy Hospital by Dr. Alan Reyes. He denies chest pain.",
    "BP 120/80, HR 72; can't walk >2 blocks (SOB). Started ASA 81mg p.o. q.d. at 10 a.m. - f/u w/ PCP.",
    "Labs: Na+ 140, K+ 4.1, Cr 1.2mg/dL; CXR: no infiltrate.  Plan:\n1) abx\n2) re-check CBC...",
    "  Leading spaces, trailing tabs\t\t and http://example.org/a?b=1 e-mail: x.y@z.com :) U.S.A. ",
]


def clintiny_blank() -> spacy.Language:
    return spacy.blank("en", config={"nlp": NLP_SETTINGS})


def tokens(doc):
    return [(t.idx, t.text, t.whitespace_) for t in doc]


# ---------------------------------------------------------------------- tokenizer


@pytest.mark.parametrize("run", ["!", ".,;:!?", "_", "()", '"*'])
def test_a_24000_character_punctuation_run_is_fast(run):
    nlp = clintiny_blank()
    text = "Pt stable. " + (run * 24000)[:24000] + " Denies pain."
    start = time.perf_counter()
    doc = nlp.make_doc(text)
    assert time.perf_counter() - start < 2.0
    assert doc.text == text
    assert [t.text for t in doc[:3]] == ["Pt", "stable", "."]
    assert [t.text for t in doc[-3:]] == ["Denies", "pain", "."]


def test_ordinary_text_gets_spacys_english_tokens():
    nlp, english = clintiny_blank(), spacy.blank("en")
    assert isinstance(nlp.tokenizer, BoundedTokenizer)
    for text in CLINICAL:
        assert tokens(nlp.make_doc(text)) == tokens(english.make_doc(text))


def test_real_notes_get_spacys_english_tokens():
    import itertools

    from spacy_clintiny.converters.mtsamples import iter_mtsamples

    nlp, english = clintiny_blank(), spacy.blank("en")
    texts = [d.text for d in itertools.islice(iter_mtsamples(require_shared_data("mtsamples")), 20)]
    texts.append(require_shared_data("physionet-deid", "id.text").read_text(encoding="utf8")[:50_000])
    for text in texts:
        assert tokens(nlp.make_doc(text)) == tokens(english.make_doc(text))


def test_tokens_around_long_runs_are_spacys():
    """Seeded texts with runs longer than max_run: outside the runs, the same tokens (and
    whitespace) as spaCy's tokenizer on the same text."""
    nlp, english = clintiny_blank(), spacy.blank("en")
    rng = random.Random(0)
    words = ["pt", "can't", "Dr.", "a.m.", "3/14/21", "mg.", "(BP", "120/80)", "e.g.", ":)", "U.S.", "--", "''"]
    spaces = [" ", "  ", "\n", " \n ", "\t", " "]
    for _ in range(60):
        parts = [rng.choice(spaces)] if rng.random() < 0.3 else []
        for _ in range(rng.randint(1, 8)):
            if rng.random() < 0.25:
                parts.append("".join(rng.choice("!.,;:?*_-()[]\"'a1") for _ in range(rng.randint(257, 320))))
            else:
                parts.append(rng.choice(words))
            parts.append(rng.choice(spaces))
        text = "".join(parts[: -1 if rng.random() < 0.5 else None])
        runs = [m.span() for m in re.finditer(r"\S{257,}", text)]
        ours, theirs = nlp.make_doc(text), english.make_doc(text)
        assert ours.text == text

        def outside(token, runs=runs):
            return not any(a <= token[0] < b for a, b in runs)

        assert [t for t in tokens(ours) if outside(t)] == [t for t in tokens(theirs) if outside(t)], repr(text)


def test_tokenizer_settings_survive_pickle_bytes_and_disk(tmp_path):
    nlp = spacy.blank(
        "en", config={"nlp": {"tokenizer": {"@tokenizers": "spacy-clintiny.Tokenizer.v1", "max_run": 40, "chunk": 8}}}
    )
    text = "See " + "=" * 100 + " above."
    expected = tokens(nlp.make_doc(text))
    assert len(expected) > 10  # the run is cut into 8-character pieces
    copy = pickle.loads(pickle.dumps(nlp.tokenizer))
    assert (copy.max_run, copy.chunk) == (40, 8) and tokens(copy(text)) == expected
    nlp.tokenizer.from_bytes(nlp.tokenizer.to_bytes())
    assert tokens(nlp.make_doc(text)) == expected
    nlp.to_disk(tmp_path / "pipe")
    loaded = spacy.load(tmp_path / "pipe")
    assert isinstance(loaded.tokenizer, BoundedTokenizer) and tokens(loaded.make_doc(text)) == expected


@pytest.mark.parametrize("settings", [{"max_run": 8, "chunk": 16}, {"max_run": 0, "chunk": 0}, {"chunk": 300}])
def test_bad_tokenizer_settings_are_a_clear_error(settings):
    with pytest.raises(ValueError, match=r"\[E841\]"):
        spacy.blank("en", config={"nlp": {"tokenizer": {"@tokenizers": "spacy-clintiny.Tokenizer.v1", **settings}}})


# ---------------------------------------------------------------------- notes over 1M characters


def test_notes_over_a_million_characters_are_accepted():
    text = "Pt seen. " * 140_000  # 1,260,000 characters
    with pytest.raises(ValueError, match=r"\[E088\]"):
        spacy.blank("en")(text)
    nlp = clintiny_blank()
    assert nlp.max_length == 2_000_000
    assert len(nlp(text)) == 420_000
    with pytest.raises(ValueError, match=r"\[E840\]"):
        spacy.blank(
            "en", config={"nlp": {"after_creation": {"@callbacks": "spacy-clintiny.MaxLength.v1", "max_length": 0}}}
        )


@pytest.mark.parametrize("name", ["assemble.cfg", "heads.cfg", "rel.cfg", "train.cfg"])
def test_project_configs_use_the_settings(name):
    nlp_config = Config().from_disk(ROOT / "configs" / name, interpolate=False)["nlp"]
    assert nlp_config["tokenizer"]["@tokenizers"] == "spacy-clintiny.Tokenizer.v1"
    assert nlp_config["after_creation"]["max_length"] > 1_200_000
    assert nlp_config["after_pipeline_creation"]["@callbacks"] == "spacy-clintiny.ClearLoadErrors.v1"


def test_own_run_configs_train_the_multi_task_heads():
    """configs/heads.cfg puts the concept head of configs/concepts.cfg in place of the multi-task
    run's, on the multi-task run's encoder: the two configs must declare the same encoder, the
    same head, the same labels and the same mix of the concept corpora. The PHI and ADE runs'
    heads go on that encoder too."""
    train, concepts = (Config().from_disk(ROOT / "configs" / name) for name in ("train.cfg", "concepts.cfg"))
    assert concepts["components"]["encoder"] == train["components"]["encoder"]
    assert concepts["components"]["ner_concepts"] == train["components"]["ner_concepts"]
    labels = [config["initialize"]["components"]["ner_concepts"] for config in (concepts, train)]
    assert labels[0] == labels[1]
    # the PHI and ADE heads' own runs are swapped in the same way: the same encoder (its cache, a
    # training-time memory setting, may differ)
    for name in ("phi.cfg", "ade_context_head.cfg"):
        encoder = Config().from_disk(ROOT / "configs" / name)["components"]["encoder"]
        assert {**encoder, "cache_size": None} == {**train["components"]["encoder"], "cache_size": None}, name
    for key in ("window", "stride", "learn_rate"):
        assert concepts["vars"][key] == train["vars"][key], key
    own, multi = concepts["corpora"]["train"]["weights"], train["corpora"]["train"]["weights"]
    assert set(own) <= set(multi)
    scale = multi["ncbi"] / own["ncbi"]
    assert {name: own[name] * scale for name in own} == {name: multi[name] for name in own}
    # the relation head's own run: train.cfg's head, plus the concept head's spans as negatives,
    # on the corpora that annotate relations with the multi-task run's weights and labels
    rel = Config().from_disk(ROOT / "configs" / "rel.cfg", interpolate=False)
    train_raw = Config().from_disk(ROOT / "configs" / "train.cfg", interpolate=False)
    assert {**rel["components"]["rel"], "negatives_from": None} == {
        **train_raw["components"]["rel"],
        "negatives_from": None,
    }
    assert rel["components"]["rel"]["negatives_from"] == ["concepts"]
    assert rel["initialize"]["components"]["rel"] == train_raw["initialize"]["components"]["rel"]
    own = rel["corpora"]["train"]["weights"]
    assert own == {name: multi[name] for name in own} and set(own) == {"synth", "ade", "bc5cdr"}
    assert rel["vars"]["learn_rate"] == train["vars"]["learn_rate"]


# ---------------------------------------------------------------------- broken pipeline folders


@pytest.fixture(scope="module")
def saved_pipeline(tiny_encoder, tmp_path_factory):
    """A tiny pipeline (encoder, sentences, ConText) with the project's [nlp] settings."""
    nlp = clintiny_blank()
    add_tiny_encoder(nlp, tiny_encoder)
    nlp.add_pipe("clintiny_sentences")
    nlp.add_pipe("clintiny_context")
    nlp.initialize()
    path = tmp_path_factory.mktemp("pipelines") / "tiny"
    nlp.to_disk(path)
    return path


def broken_copy(saved, tmp_path, relative, how):
    path = tmp_path / "broken"
    shutil.copytree(saved, path)
    target = path / relative
    if how == "truncate":
        target.write_bytes(target.read_bytes()[: max(1, target.stat().st_size // 2)])
    elif how == "delete":
        target.unlink()
    elif how == "garble":
        target.write_text("[nlp\nlang = en\n%%% not a config ]]]\n", encoding="utf8")
    return path, target


def test_the_saved_pipeline_loads(saved_pipeline):
    nlp = spacy.load(saved_pipeline)
    assert nlp.pipe_names == ["clintiny_encoder", "clintiny_sentences", "clintiny_context"]
    assert nlp.max_length == 2_000_000
    assert len(list(nlp("Pt seen. Denies pain.").sents)) == 2


@pytest.mark.parametrize(
    "relative,how,component",
    [
        ("clintiny_encoder/model", "truncate", "clintiny_encoder"),
        ("clintiny_encoder/model", "delete", "clintiny_encoder"),
        ("clintiny_sentences/rush_rules.tsv", "delete", "clintiny_sentences"),
        ("clintiny_context/rules.json", "truncate", "clintiny_context"),
        ("tokenizer", "truncate", "tokenizer"),
    ],
)
def test_a_damaged_file_is_one_error_naming_it(saved_pipeline, tmp_path, relative, how, component):
    path, target = broken_copy(saved_pipeline, tmp_path, relative, how)
    with pytest.raises(PipelineLoadError, match=r"\[E845\]") as caught:
        spacy.load(path)
    message = str(caught.value)
    assert str(target) in message and f"'{component}'" in message and "re-package" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # one error, no chain


def test_a_truncated_vocab_is_one_error_naming_it(saved_pipeline, tmp_path):
    path, target = broken_copy(saved_pipeline, tmp_path, "vocab/strings.json", "truncate")
    with pytest.raises(PipelineLoadError, match=r"\[E844\]") as caught:
        spacy.load(path)
    assert str(target) in str(caught.value)


@pytest.mark.parametrize(
    "relative,how,code",
    [("config.cfg", "garble", "E844"), ("config.cfg", "delete", "E843"), ("meta.json", "truncate", "E844")],
)
def test_a_garbled_or_missing_config_is_one_error_naming_it(saved_pipeline, tmp_path, relative, how, code):
    """spacy.load reads config.cfg before any code of ours runs, so this check is ours:
    check_pipeline_folder (used by clintiny check-package)."""
    path, target = broken_copy(saved_pipeline, tmp_path, relative, how)
    with pytest.raises(PipelineLoadError, match=rf"\[{code}\]") as caught:
        check_pipeline_folder(path)
    assert relative in str(caught.value)


def test_check_package_on_a_missing_path_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(app, ["check-package", str(tmp_path / "does" / "not" / "exist")])
    assert result.exit_code == 1
    assert "[E842]" in result.output and "Traceback" not in result.output
    with pytest.raises(PipelineLoadError, match=r"\[E842\]"):
        check_package("en_no_such_pipeline_package")


def test_check_package_names_the_damaged_file(saved_pipeline, tmp_path):
    """In a fresh process, as the packaging step runs it."""
    path, target = broken_copy(saved_pipeline, tmp_path, "clintiny_encoder/model", "truncate")
    with pytest.raises(PipelineLoadError, match=r"\[E845\]") as caught:
        check_package(str(path))
    assert "clintiny_encoder" in str(caught.value) and "model" in str(caught.value)


# ---------------------------------------------------------------------- no spurious warnings

# Fresh interpreter with Python's default warning filters: load and run a note whose windows
# exceed the tiny encoder's 512 positions. Then, as a control, drop our two filters and show
# that the same work does produce the two messages.
WARNINGS_SCRIPT = """
import logging, sys, warnings
import spacy
nlp = spacy.load(sys.argv[1])
note = " ".join(["Pt", "seen", "zqxvkwjzqxvkwjzqxvkwjzqxvkwjzqxvkwj" * 2] * 400)
nlp(note)
print("--- control", file=sys.stderr, flush=True)
warnings.resetwarnings()
from spacy_clintiny import models
logger = logging.getLogger("transformers.tokenization_utils_base")
logger.filters = [f for f in logger.filters if not isinstance(f, models._DropLongSequenceWarning)]
spacy.load(sys.argv[1])(note)
"""


def test_no_warnings_at_load_or_on_a_long_note(saved_pipeline):
    proc = subprocess.run(
        [sys.executable, "-c", WARNINGS_SCRIPT, str(saved_pipeline)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    quiet, _, control = proc.stderr.partition("--- control")
    assert quiet.strip() == ""
    assert "torch.cuda.amp.autocast" in control and "Token indices sequence length" in control


def test_warning_filters_are_narrow():
    """Only thinc's autocast FutureWarning is ignored: the same text from elsewhere, and other
    warnings from thinc, still show."""
    import warnings

    from spacy_clintiny import models

    text = "`torch.cuda.amp.autocast(args...)` is deprecated. Please use `torch.amp.autocast('cuda', args...)`"
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        models.install_warning_filters()
        warnings.warn_explicit(text, FutureWarning, "pytorch.py", 114, module="thinc.shims.pytorch")
        warnings.warn_explicit(text, FutureWarning, "ours.py", 1, module="spacy_clintiny.ours")
        warnings.warn_explicit("another change", FutureWarning, "pytorch.py", 115, module="thinc.shims.pytorch")
    assert [(str(w.message), w.filename) for w in caught] == [(text, "ours.py"), ("another change", "pytorch.py")]
