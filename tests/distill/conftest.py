import random

import pytest

from spacy_clintiny.testing import COMMON_WORDS, make_tiny_bert


@pytest.fixture(scope="session", autouse=True)
def corpus_cache(tmp_path_factory):
    """Keep the tokenized-corpus cache of these tests in a temp folder."""
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("corpus_cache")
    mp.setenv("CLINTINY_CACHE_DIR", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="session")
def text_corpus(tmp_path_factory):
    """80 invented 'notes' of clinical words, blank-line separated (no real text)."""
    rng = random.Random(0)
    path = tmp_path_factory.mktemp("corpus") / "notes.txt"
    docs = [" ".join(rng.choice(COMMON_WORDS) for _ in range(rng.randint(20, 60))) for _ in range(80)]
    path.write_text("\n\n".join(docs) + "\n", encoding="utf8")
    return path


@pytest.fixture(scope="session")
def teacher4(tmp_path_factory):
    """A random 4-layer x 32 BERT with an MLM head."""
    return make_tiny_bert(tmp_path_factory.mktemp("teacher4"), num_hidden_layers=4, with_mlm_head=True)
