"""What ``nlp.pipe(n_process=...)`` needs from this package, set up on import.

- **One torch (and BLAS) thread per forked worker.** A forked child inherits the parent's OpenMP state but
  not its threads: a child that runs a parallel region with more than one thread after the
  parent has used its pool waits forever (the whole ``nlp.pipe`` call hangs). PyTorch's own
  DataLoader workers run with one thread for this reason, and one thread per process is what
  ``n_process`` wants anyway (the processes share the cores). The hook runs only for
  ``os.fork`` children (multiprocessing's fork start method, Spark's Python workers, which set
  their own count afterwards), not for ``subprocess`` runs.
- **Workers that die with their parent** (:func:`watch_parent`, which the ``clintiny`` commands
  that run ``n_process`` workers call). spaCy's workers are ordinary processes waiting on a
  queue: when the parent is killed (SIGKILL, the OOM killer) they wait forever, each holding a
  copy of the pipeline. On Linux each forked child asks the kernel for SIGTERM when its parent
  dies (``prctl(PR_SET_PDEATHSIG)``), and exits at once if the parent is already gone.
- **A clear error for docs that cannot cross processes.** spaCy sends a worker's docs back with
  ``Doc.to_bytes``, which msgpacks ``doc.user_data``. medspaCy's sectionizer and ConText keep
  ``Span`` objects, sections and graphs there, which msgpack cannot encode; spaCy then reports a
  bare ``TypeError`` from deep inside srsly. The encoder registered here raises E847 instead,
  which says what holds the object and what to do.
"""

import os
import signal
import sys
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


PR_SET_PDEATHSIG = 1
_parent_pid: Optional[int] = None
_watching = False


def _remember_parent() -> None:
    global _parent_pid
    _parent_pid = os.getpid()


def die_with_parent() -> bool:
    """In a forked child (Linux): SIGTERM this process when the parent that forked it dies, and
    exit now if it already has. RETURNS (bool): whether the kernel took the request."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        taken = libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
    if taken and _parent_pid is not None and os.getppid() != _parent_pid:
        os._exit(1)  # the parent died between the fork and the request
    return taken


def watch_parent() -> None:
    """Make every child this process forks from now on die with it (:func:`die_with_parent`;
    once per process). For programs that run ``nlp.pipe(n_process=...)`` workers; a library
    import does not call it, since a program may fork children meant to outlive it."""
    global _watching
    if _watching or not hasattr(os, "register_at_fork"):
        return
    os.register_at_fork(before=_remember_parent, after_in_child=die_with_parent)
    _watching = True


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
