"""Clinical corpus converters: one module per source format, all producing Docs that follow
the project's data contract (span groups "phi" / "concepts" / "modifiers" / "nli_pair", gold
relations in ``doc.user_data["clintiny_rels"]``, document labels in ``doc.cats``).

Use the ``read_*`` functions (or ``read_format``) in Python, ``clintiny convert`` on the
command line, or the registered ``spacy-clintiny.<Format>Corpus.v1`` readers in a config.
"""

from .convert import convert_corpus
from .formats import (
    FORMATS,
    read_ade,
    read_brat,
    read_conll,
    read_format,
    read_i2b2_2010,
    read_i2b2_2012,
    read_i2b2_2014,
    read_mednli,
    read_mtsamples,
    read_physionet,
    read_pubtator,
)
from .labels import PRESETS, LabelMap
from .report import ConversionReport

__all__ = [
    "FORMATS",
    "ConversionReport",
    "LabelMap",
    "PRESETS",
    "convert_corpus",
    "read_ade",
    "read_brat",
    "read_conll",
    "read_format",
    "read_i2b2_2010",
    "read_i2b2_2012",
    "read_i2b2_2014",
    "read_mednli",
    "read_mtsamples",
    "read_physionet",
    "read_pubtator",
]
