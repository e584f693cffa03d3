"""`clintiny side-by-side`: project commands in lanes that really run at the same time, each as
`spacy project run` would run it (deps, skip when nothing changed, project.lock), with the
lane's thread count, and a failing command named with its log."""

import sys

import pytest
import srsly
from typer.testing import CliRunner

from spacy_clintiny.cli import app
from spacy_clintiny.cli.side_by_side import parse_lanes, run_side_by_side

# Each side waits (up to 60 s) for the other's flag file: run one after the other, the first
# times out and fails, so only lanes that really run at the same time both pass.
MEET = (
    'python -c "import os, sys, time, pathlib; me, other = sys.argv[1], sys.argv[2]; '
    "pathlib.Path(me + '.flag').write_text(os.environ['OMP_NUM_THREADS']); "
    "end = time.time() + 60; "
    "[time.sleep(0.05) for _ in iter(lambda: pathlib.Path(other + '.flag').exists() or time.time() > end, True)]; "
    "sys.exit(0 if pathlib.Path(other + '.flag').exists() else 3)\" {me} {other}"
)
WRITE = 'python -c "import sys, pathlib; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])" {path} {text}'


def make_project(root, extra_commands=()):
    commands = [
        {"name": "left", "script": [MEET.format(me="left", other="right")], "outputs": ["left.flag"]},
        {"name": "right", "script": [MEET.format(me="right", other="left")], "outputs": ["right.flag"]},
        {
            "name": "after-left",
            "script": [WRITE.format(path="after.txt", text="${vars.word}")],
            "deps": ["left.flag"],
            "outputs": ["after.txt"],
        },
        *extra_commands,
    ]
    srsly.write_yaml(root / "project.yml", {"title": "t", "vars": {"word": "one"}, "commands": commands})
    return root


def test_lanes_run_at_the_same_time_and_update_the_lock(tmp_path):
    root = make_project(tmp_path)
    runs = run_side_by_side(root, ["left,after-left", "right"], threads="2,1")
    assert [[run.status for run in lane.commands] for lane in runs] == [["done", "done"], ["done"]]
    assert (root / "left.flag").read_text() == "2" and (root / "right.flag").read_text() == "1"
    assert (root / "after.txt").read_text() == "one"
    assert (root / "logs" / "left.log").read_text().startswith("Running command: " + sys.executable)
    lock = srsly.read_yaml(root / "project.lock")
    assert set(lock) == {"left", "right", "after-left"}
    # nothing changed: every command is skipped, as `spacy project run` would skip it
    again = run_side_by_side(root, ["left,after-left", "right"])
    assert [run.status for lane in again for run in lane.commands] == ["skipped"] * 3
    # a changed variable changes after-left's script: it alone runs again
    runs = run_side_by_side(root, ["after-left"], overrides={"vars.word": "two"})
    assert runs[0].commands[0].status == "done" and (root / "after.txt").read_text() == "two"


def test_a_failing_command_stops_its_lane_only(tmp_path):
    fail = {"name": "fail", "script": ["python -c \"import sys; print('boom'); sys.exit(7)\""]}
    write = {"name": "write", "script": [WRITE.format(path="w.txt", text="x")], "outputs": ["w.txt"]}
    never = {"name": "never", "script": [WRITE.format(path="n.txt", text="x")], "outputs": ["n.txt"]}
    root = make_project(tmp_path, [fail, write, never])
    result = CliRunner().invoke(app, ["side-by-side", "fail,never", "write", "--project-dir", str(root)])
    assert result.exit_code == 1
    assert "Command 'fail' failed with exit code 7" in result.output and "fail.log" in result.output
    assert "boom" in (root / "logs" / "fail.log").read_text()
    assert (root / "w.txt").exists() and not (root / "n.txt").exists()
    lock = srsly.read_yaml(root / "project.lock")
    assert set(lock) == {"write"}  # a failed command is not recorded as done


def test_a_program_that_does_not_exist_fails_its_command(tmp_path):
    missing = {"name": "missing", "script": ["no-such-program-clintiny --flag"], "outputs": ["m.txt"]}
    root = make_project(tmp_path, [missing])
    runs = run_side_by_side(root, ["missing"])
    assert runs[0].commands[0].status == "failed" and runs[0].commands[0].returncode == 127
    assert "no-such-program-clintiny" in (root / "logs" / "missing.log").read_text()


def test_cli_takes_variable_overrides_after_the_lanes(tmp_path):
    root = make_project(tmp_path)
    (root / "left.flag").write_text("1")  # after-left's dependency
    result = CliRunner().invoke(
        app, ["side-by-side", "after-left", "--project-dir", str(root), "--threads", "2", "--vars.word", "three"]
    )
    assert result.exit_code == 0, result.output
    assert (root / "after.txt").read_text() == "three"


def test_missing_dependency_is_named(tmp_path, capsys):
    root = make_project(tmp_path)
    runs = run_side_by_side(root, ["after-left"])
    assert runs[0].commands[0].status == "failed" and not (root / "after.txt").exists()
    assert "E609" in capsys.readouterr().out


SLOW_WRITE = (
    'python -c "import sys, time, pathlib; time.sleep(1); path = pathlib.Path(sys.argv[1]); '
    'path.parent.mkdir(exist_ok=True); path.write_text(sys.argv[2])" {path} {text}'
)
COPY = 'python -c "import sys, shutil; shutil.copyfile(sys.argv[1], sys.argv[2])" {} {}'
MAKE = {"name": "make", "script": [SLOW_WRITE.format(path="made/a.txt", text="m")], "outputs": ["made"]}
USE = {
    "name": "use",
    "script": [COPY.format("made/a.txt", "used.txt")],
    "deps": ["made/a.txt"],
    "outputs": ["used.txt"],
}


def test_a_command_waits_for_its_dependency_from_another_lane(tmp_path, capsys):
    """`use` starts first in its lane, but `make` (the other lane, one second) writes the folder
    its dependency is in: it waits instead of failing for a missing dependency."""
    root = make_project(tmp_path, [MAKE, USE])
    runs = run_side_by_side(root, ["use", "make"])
    assert [run.status for lane in runs for run in lane.commands] == ["done", "done"]
    assert (root / "used.txt").read_text() == "m"
    assert "'use' waits for make" in capsys.readouterr().out


def test_a_command_whose_producer_fails_is_not_run(tmp_path):
    make = {**MAKE, "script": ['python -c "import sys; sys.exit(5)"']}
    root = make_project(tmp_path, [make, USE])
    result = CliRunner().invoke(app, ["side-by-side", "use,right", "make", "--project-dir", str(root)])
    assert result.exit_code == 1
    output = " ".join(result.output.split())  # wasabi wraps long lines
    assert "Command 'use' was not run: it depends on the outputs of 'make', which failed" in output
    assert not (root / "used.txt").exists() and not (root / "right.flag").exists()


@pytest.mark.parametrize(
    "lanes,circle",
    [(["use,make"], "make -> use"), (["use,stamp", "needs-stamp,make"], "use -> stamp -> needs-stamp -> make -> use")],
)
def test_lanes_that_would_wait_for_each_other_are_refused(tmp_path, lanes, circle):
    stamp = {"name": "stamp", "script": [WRITE.format(path="s.txt", text="s")], "outputs": ["s.txt"]}
    needs = {"name": "needs-stamp", "script": [WRITE.format(path="n.txt", text="n")], "deps": ["s.txt"]}
    root = make_project(tmp_path, [MAKE, USE, stamp, needs])
    with pytest.raises(ValueError, match="E611") as err:
        run_side_by_side(root, lanes)
    assert circle in str(err.value)
    assert not (root / "made").exists()


@pytest.mark.parametrize(
    "lanes,code",
    [(["left", "nope"], "E606"), (["left", "left"], "E607"), ([","], "E605"), (["all"], "E606")],
)
def test_bad_lanes_are_refused(lanes, code):
    with pytest.raises(ValueError, match=code):
        parse_lanes(lanes, ["left", "right"])


@pytest.mark.parametrize("threads", [0, "0", "2,1,1", "two", [1, 0]])
def test_thread_counts_are_checked(tmp_path, threads):
    root = make_project(tmp_path)
    with pytest.raises(ValueError, match="E608"):
        run_side_by_side(root, ["left", "right"], threads=threads)


def test_lanes_share_the_cores_politely_unless_told_otherwise(tmp_path, monkeypatch):
    """Idle BLAS/OpenMP threads sleep and malloc keeps freed memory in every lane's processes; a
    variable the user set is theirs."""
    names = ("OPENBLAS_THREAD_TIMEOUT", "OMP_WAIT_POLICY", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CLINTINY_KEEP_FREED_MEMORY", raising=False)
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    show = (
        'python -c "import os, sys, json, pathlib; '
        'pathlib.Path(sys.argv[1]).write_text(json.dumps({k: os.environ.get(k) for k in sys.argv[2:]}))" '
        "env.json " + " ".join(names)
    )
    commands = [{"name": "show", "script": [show], "outputs": ["env.json"]}]
    srsly.write_yaml(tmp_path / "project.yml", {"title": "t", "commands": commands})
    runs = run_side_by_side(tmp_path, ["show"], threads=1)
    assert runs[0].commands[0].status == "done"
    seen = srsly.read_json(tmp_path / "env.json")
    assert seen["OPENBLAS_THREAD_TIMEOUT"] == "4"
    assert seen["OMP_WAIT_POLICY"] == "ACTIVE"
    assert int(seen["MALLOC_MMAP_THRESHOLD_"]) == 32 * 1024 * 1024
    assert int(seen["MALLOC_TRIM_THRESHOLD_"]) == 512 * 1024 * 1024
