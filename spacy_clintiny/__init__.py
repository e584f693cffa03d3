"""spacy_clintiny: compact clinical transformers for spaCy."""
from .about import __version__
from . import architectures, components  # noqa: F401  (registers factories and architectures)

__all__ = ["__version__"]
