"""keep_freed_memory: batches of large arrays reuse freed memory instead of faulting in new pages."""

import json
import platform
import subprocess
import sys

import pytest

from spacy_clintiny.heap import freed_memory_environment

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt thresholds are glibc's")

# one "batch": five arrays of 8-28 MiB alive together, then freed; page faults counted over ten batches
PROGRAM = """
import json, resource, sys
import numpy
from spacy_clintiny.heap import keep_freed_memory

applied = keep_freed_memory()

def batch():
    arrays = [numpy.ones((rows, 1024), dtype="float32") for rows in (2048, 4096, 6144, 7168, 3072)]
    total = sum(float(a.sum()) for a in arrays)
    del arrays
    return total

batch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    batch()
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10
print(json.dumps({"applied": applied, "faults": faults}))
"""


def _run(env_value: str, program: str = PROGRAM, **extra_env: str) -> dict:
    env = {"CLINTINY_KEEP_FREED_MEMORY": env_value, "PATH": "", **extra_env}
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_keep_freed_memory_stops_page_faults_between_batches():
    default = _run("0")
    kept = _run("1")
    assert default["applied"] is False  # CLINTINY_KEEP_FREED_MEMORY=0 keeps malloc's defaults
    assert kept["applied"] is True
    # malloc's defaults: freed arrays go back to the kernel and each batch faults its pages in again
    assert default["faults"] > 500
    assert kept["faults"] < default["faults"] / 10


def test_clintiny_command_applies_it():
    program = (
        "import spacy_clintiny.heap as heap\n"
        "from typer.testing import CliRunner\n"
        "from spacy_clintiny.cli import app\n"
        "result = CliRunner().invoke(app, ['info', '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(heap._applied)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "True"


def test_the_environment_variables_do_the_same_for_a_child_that_does_not_call_it(monkeypatch):
    """What `clintiny side-by-side` gives the `python -m spacy train` processes of its lanes."""
    monkeypatch.delenv("CLINTINY_KEEP_FREED_MEMORY", raising=False)
    variables = freed_memory_environment()
    assert set(variables) == {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}
    program = PROGRAM.replace("applied = keep_freed_memory()", "applied = None")
    default = _run("0", program)
    kept = _run("0", program, **variables)
    assert default["faults"] > 500
    assert kept["faults"] < default["faults"] / 10
    monkeypatch.setenv("CLINTINY_KEEP_FREED_MEMORY", "0")
    assert freed_memory_environment() == {}
