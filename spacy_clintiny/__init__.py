"""spacy_clintiny: compact clinical transformers for spaCy.

Importing the package is light (no torch model code, no transformers): spaCy finds the
components, architectures and readers through the entry points in setup.cfg when a config or
a saved pipeline names them, and importing ``spacy_clintiny.components`` (or any module that
defines them) registers them in-process too. The ``clintiny`` command starts in about two
seconds instead of six, and commands that never load a model (convert, labels, synth) never
import transformers.
"""

from .blas import set_openblas_coretype

set_openblas_coretype()  # before numpy loads: OpenBLAS reads OPENBLAS_CORETYPE once (blas.py)

from ._srsly import freeze_msgpack_hooks  # noqa: E402
from .about import __version__  # noqa: E402
from .extensions import install_extensions  # noqa: E402
from .multiprocess import install as install_multiprocess  # noqa: E402

install_extensions()  # idempotent, never force=True: doc._.clintiny_rels after `import spacy_clintiny`
install_multiprocess()  # nlp.pipe(n_process=...): one torch thread per forked worker, E847 for medspaCy docs
freeze_msgpack_hooks()  # DocBins decode without an entry-point scan per span group (_srsly.py)

__all__ = ["__version__"]
