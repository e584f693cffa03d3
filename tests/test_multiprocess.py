"""nlp.pipe(n_process=...) support: one torch thread in forked workers (no OpenMP hang), workers
that die with their parent when asked, the default process count of `clintiny deid`, and a
clear error (E847) for docs whose user_data holds spans or medspaCy objects."""

import multiprocessing
import sys

import pytest
import spacy
import torch

import spacy_clintiny  # noqa: F401  (installs the fork hook and the msgpack encoder)
from spacy_clintiny.multiprocess import encode_unsendable


def _child(queue) -> None:
    x = torch.randn(512, 512)
    torch.nn.functional.layer_norm(x @ x, (512,))  # a parallel region in the child
    queue.put(torch.get_num_threads())


def _blas_child(queue) -> None:
    import numpy
    from threadpoolctl import threadpool_info

    x = numpy.ones((256, 256), dtype="f")
    queue.put((float((x @ x)[0, 0]), [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]))


def run_forked(target, what):
    """Run ``target(queue)`` in a forked child; assert it neither hung nor failed; return what
    it put on the queue."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=target, args=(queue,))
    child.start()
    child.join(60)
    hung = child.is_alive()
    if hung:
        child.kill()
    assert not hung, f"the forked child hung in {what}"
    assert child.exitcode == 0
    return queue.get(timeout=5)


def test_forked_child_multiplies_with_one_blas_thread_after_the_parent_used_its_pool():
    import numpy

    x = numpy.ones((512, 512), dtype="f")
    x @ x  # the parent's BLAS threads now exist
    value, threads = run_forked(_blas_child, "BLAS")
    assert value == 256.0
    assert threads and set(threads) == {1}


def test_forked_child_runs_torch_with_one_thread_after_the_parent_used_its_pool():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        x = torch.randn(512, 512)
        torch.nn.functional.layer_norm(x @ x, (512,))  # the parent's OpenMP pool now exists
        assert run_forked(_child, "torch") == 1
    finally:
        torch.set_num_threads(previous)


def test_doc_with_a_span_in_user_data_fails_with_e847_naming_the_type():
    nlp = spacy.blank("en")
    doc = nlp("Chest pain since Monday.")
    doc.user_data[("._.", "sections", None, None)] = [doc[0:2]]
    with pytest.raises(TypeError, match=r"E847.*spacy\.tokens\.span\.Span"):
        doc.to_bytes()


def test_plain_user_data_still_serializes():
    nlp = spacy.blank("en")
    doc = nlp("Chest pain since Monday.")
    doc.user_data[("._.", "is_negated", 0, 10)] = True
    restored = spacy.tokens.Doc(nlp.vocab).from_bytes(doc.to_bytes())
    assert restored.user_data[("._.", "is_negated", 0, 10)] is True
    assert encode_unsendable(3, chain=lambda obj: obj * 2) == 6


ORPHAN_SCRIPT = """
import multiprocessing, sys, time
from spacy_clintiny.multiprocess import watch_parent
if sys.argv[1] == "watch":
    watch_parent()
child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
child.start()
print(child.pid, flush=True)
time.sleep(60)
"""


def _gone(pid: int) -> bool:
    from pathlib import Path

    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # a zombie no one reaps (pid 1 of a container) is dead too


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("watch", [True, False])
def test_a_killed_parents_workers_exit_when_it_watches_them(watch):
    """The `clintiny deid` case: its process SIGKILLed while n_process workers wait on their queue."""
    import os
    import signal
    import subprocess
    import time

    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_SCRIPT, "watch" if watch else "no"], stdout=subprocess.PIPE, text=True
    )
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + (10 if watch else 2)  # unwatched, it would sleep its 60 s
    while time.time() < deadline and not _gone(child):
        time.sleep(0.05)
    gone = _gone(child)
    if not gone:
        os.kill(child, signal.SIGKILL)
    assert gone is watch


def test_clintiny_deid_runs_one_process_per_core_by_default(monkeypatch):
    import os

    from spacy_clintiny.deid import engine

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert engine.resolve_n_process(None) == 2
    assert engine.resolve_n_process(3) == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5}, raising=False)
    assert engine.resolve_n_process(None) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert engine.resolve_n_process(None) == engine.MAX_AUTO_PROCESSES
