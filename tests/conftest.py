import os

import pytest
import spacy

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False, help="run slow tests")


def pytest_collection_modifyitems(config, items):
    # the long tests first: under `pytest -n 2 --dist worksteal` (make test) the first worker
    # starts them at once and the other worker takes, then steals, everything else
    items.sort(key=lambda item: "long" not in item.keywords)  # stable: the rest keep their order
    if config.getoption("--slow"):
        return
    skip_slow = pytest.mark.skip(reason="needs --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture
def nlp():
    return spacy.blank("en")


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory):
    """A random tiny BERT (2 layers x 32) and its vocab in a temp folder: no network."""
    from spacy_clintiny.testing import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="session")
def tiny_mlm_encoder(tmp_path_factory):
    """The same tiny BERT with a masked-language-model head."""
    from spacy_clintiny.testing import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert_mlm"), with_mlm_head=True)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The test machine's 2 cores are shared: multi-threaded torch on tiny models is 3-6x
    slower under contention than one thread. Restored after each module."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
