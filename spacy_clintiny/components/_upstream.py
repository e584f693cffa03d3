"""Checks that a head listening to the shared encoder is actually fed by one (error E004)."""

from typing import List

from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc


def listens_to_encoder(pipe: TrainablePipe) -> bool:
    """RETURNS (bool): Whether the pipe's model contains a spacy-transformers listener."""
    from spacy_transformers.layers import TransformerListener

    return any(isinstance(node, TransformerListener) for node in pipe.model.walk())


def has_upstream(pipe: TrainablePipe, nlp: Language) -> bool:
    """Whether an encoder earlier in ``nlp`` feeds the pipe's listener.

    pipe (TrainablePipe): The head.
    nlp (Language): The pipeline containing it.
    RETURNS (bool): True if the pipe has no listener, some pipe's ``listener_map`` holds it,
        or an encoder that the listener names runs before it. The last case is a frozen
        encoder in ``[training] annotating_components``: spaCy then disconnects its listeners
        and they read ``doc._.trf_data`` instead.
    """
    from spacy_transformers.layers import TransformerListener
    from spacy_transformers.pipeline_component import Transformer

    if not listens_to_encoder(pipe):
        return True
    # nlp.components includes disabled pipes: spaCy disables frozen ones during initialize
    for _, proc in nlp.components:
        listener_map = getattr(proc, "listener_map", None)
        if listener_map and pipe.name in listener_map:
            return True
    upstreams = {node.upstream_name for node in pipe.model.walk() if isinstance(node, TransformerListener)}
    for name, proc in nlp.components:
        if name == pipe.name:
            break
        if isinstance(proc, Transformer) and ("*" in upstreams or name in upstreams):
            return True
    return False


def docs_are_encoded(pipe: TrainablePipe, docs: List[Doc]) -> bool:
    """Whether every non-empty doc carries encoder output (otherwise a listener would
    silently feed zeros at inference).

    pipe (TrainablePipe): The head.
    docs (List[Doc]): The docs to predict on.
    RETURNS (bool): True if the pipe has no listener or all docs are encoded.
    """
    if not listens_to_encoder(pipe):
        return True
    if not Doc.has_extension("trf_data"):
        return not any(len(doc) for doc in docs)
    return all(doc._.trf_data is not None for doc in docs if len(doc))
