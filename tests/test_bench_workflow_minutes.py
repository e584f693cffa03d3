"""bench/workflow_minutes.py: the minutes of a finished workflow from its outputs' times (the
timings of the fresh clones in bench/results/all_workflow.md rest on it)."""

import os
from pathlib import Path

import pytest

from helpers import bench_script

PROJECT = """
commands:
  - name: first
    script: ["python -c 'pass'"]
    outputs: ["out/first.txt"]
  - name: lanes
    script: ["clintiny side-by-side a,b c --threads 1,1 --vars.x 1"]
  - name: a
    script: ["python -c 'pass'"]
    outputs: ["out/a"]
  - name: b
    script: ["python -c 'pass'"]
    outputs: ["out/b.txt"]
  - name: c
    script: ["python -c 'pass'"]
    outputs: ["out/c.txt"]
  - name: last
    script: ["python -c 'pass'"]
    outputs_no_cache: ["out/last.whl"]
  - name: bare
    script: ["python -c 'pass'"]
workflows:
  all: [first, lanes, last, bare]
"""


@pytest.fixture(scope="module")
def minutes():
    return bench_script("workflow_minutes")


def _touch(path: Path, when: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    os.utime(path, (when, when))


def test_steps_are_timed_from_the_step_before_and_lanes_within_their_lane(minutes, tmp_path):
    (tmp_path / "project.yml").write_text(PROJECT)
    start = 1_000_000.0
    _touch(tmp_path / ".venv" / "bin" / ".installed", start + 120)
    _touch(tmp_path / "out" / "first.txt", start + 300)
    _touch(tmp_path / "out" / "a" / "model" / "weights.bin", start + 900)  # the newest file in a folder
    _touch(tmp_path / "out" / "a" / "early.txt", start + 400)
    _touch(tmp_path / "out" / "b.txt", start + 1200)
    _touch(tmp_path / "out" / "c.txt", start + 600)
    _touch(tmp_path / "out" / "last.whl", start + 1260)
    rows = {(step, lane): value for step, lane, value in minutes.step_minutes(tmp_path, start)}
    assert rows[("venv (make setup)", "")] == pytest.approx(2.0)
    assert rows[("first", "")] == pytest.approx(3.0)
    assert rows[("a", "lane 1")] == pytest.approx(10.0)
    assert rows[("b", "lane 1")] == pytest.approx(5.0)
    assert rows[("c", "lane 2")] == pytest.approx(5.0)
    assert rows[("lanes", "")] == pytest.approx(15.0)  # until the slower lane ends
    assert rows[("last", "")] == pytest.approx(1.0)  # outputs_no_cache count too
    assert rows[("bare", "")] is None  # no outputs: no time of its own
    assert rows[("total to the last output", "")] == pytest.approx(21.0)


def test_an_unknown_workflow_names_the_ones_there_are(minutes, tmp_path):
    (tmp_path / "project.yml").write_text(PROJECT)
    with pytest.raises(SystemExit, match="choose one of \\['all'\\]"):
        minutes.step_minutes(tmp_path, 0.0, workflow="smoke")
