"""Synthetic clinical notes with exact PHI, concept, assertion and relation annotations."""

from .generator import NOTE_LABELS, STYLES, SynthGenerator, generate_docs, synth_corpus

__all__ = ["NOTE_LABELS", "STYLES", "SynthGenerator", "generate_docs", "synth_corpus"]
