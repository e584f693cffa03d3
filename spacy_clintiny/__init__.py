"""spacy_clintiny: compact clinical transformers for spaCy."""
from .about import __version__
from . import architectures, components, training  # noqa: F401  (registers factories, architectures, readers)

__all__ = ["__version__"]
