"""Registries: spaCy's own, plus the catalogue registries this package adds."""

import catalogue
from spacy.util import registry

# Distillation loss terms, referenced by name from distillation configs.
distill_losses = catalogue.create("spacy_clintiny", "distill_losses", entry_points=True)

__all__ = ["registry", "distill_losses"]
