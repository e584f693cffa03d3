"""What ``nlp.pipe(n_process=...)`` needs from this package, set up on import.

- **One torch (and BLAS) thread per forked worker.** A forked child inherits the parent's OpenMP state but
  not its threads: a child that runs a parallel region with more than one thread after the
  parent has used its pool waits forever (the whole ``nlp.pipe`` call hangs). PyTorch's own
  DataLoader workers run with one thread for this reason, and one thread per process is what
  ``n_process`` wants anyway (the processes share the cores). The hook runs only for
  ``os.fork`` children (multiprocessing's fork start method, Spark's Python workers, which set
  their own count afterwards), not for ``subprocess`` runs.
- **A clear error for docs that cannot cross processes.** spaCy sends a worker's docs back with
  ``Doc.to_bytes``, which msgpacks ``doc.user_data``. medspaCy's sectionizer and ConText keep
  ``Span`` objects, sections and graphs there, which msgpack cannot encode; spaCy then reports a
  bare ``TypeError`` from deep inside srsly. The encoder registered here raises E847 instead,
  which says what holds the object and what to do.
"""

import os
from typing import Any, Callable, Optional

import srsly
from spacy.tokens import Span

from .errors import Errors

UNSENDABLE_MODULES = ("medspacy", "spacy_clintiny.components")


def one_torch_thread() -> None:
    """Set torch to one intra-op thread, and numpy's BLAS (the heads' matrix products,
    ``architectures/_ops.py``) to one thread too, so ``n_process`` workers do not oversubscribe
    the cores (run in each forked child)."""
    import torch

    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn's dependency; without it BLAS keeps its count
        return
    threadpool_limits(limits=1, user_api="blas")


def encode_unsendable(obj: Any, chain: Optional[Callable[[Any], Any]] = None) -> Any:
    """srsly msgpack encoder: E847 for a ``Span`` or a medspaCy object in ``doc.user_data``;
    anything else goes to the next encoder unchanged."""
    module = type(obj).__module__ or ""
    if isinstance(obj, Span) or module.startswith(UNSENDABLE_MODULES):
        raise TypeError(Errors.E847.format(type=f"{module}.{type(obj).__qualname__}"))
    return obj if chain is None else chain(obj)


_installed = False


def install() -> None:
    """Register the fork hook and the msgpack encoder (once per process)."""
    global _installed
    if _installed:
        return
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=one_torch_thread)
    srsly.msgpack_encoders.register("spacy_clintiny.unsendable", func=encode_unsendable)
    _installed = True
