"""Distillation and continual pre-training engine (``clintiny init-student``, ``pretrain``,
``distill``, ``fidelity``).

Not imported by ``spacy_clintiny/__init__.py``: entry-point targets must import cheaply.
Importing this package registers the loss terms in ``spacy_clintiny.registry.distill_losses``.
"""

from . import losses  # noqa: F401  (registers the loss terms)

__all__ = ["losses"]
