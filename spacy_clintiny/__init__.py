"""spacy_clintiny: compact clinical transformers for spaCy."""

from . import architectures, components, training  # noqa: F401  (registers factories, architectures, readers)
from .about import __version__
from .components._extensions import install_extensions
from .multiprocess import install as install_multiprocess

install_extensions()  # idempotent, never force=True: doc._.clintiny_rels after `import spacy_clintiny`
install_multiprocess()  # nlp.pipe(n_process=...): one torch thread per forked worker, E847 for medspaCy docs

__all__ = ["__version__"]
