"""spacy_clintiny: compact clinical transformers for spaCy."""

from . import architectures, components, training  # noqa: F401  (registers factories, architectures, readers)
from .about import __version__
from .components._extensions import install_extensions

install_extensions()  # idempotent, never force=True: doc._.clintiny_rels after `import spacy_clintiny`

__all__ = ["__version__"]
