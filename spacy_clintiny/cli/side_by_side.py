"""``clintiny side-by-side LANE LANE ... --threads 2,1``: run project commands at the same time.

spaCy's project workflows run their commands one after another, so a step that uses one core
leaves the other idle: spaCy's CNN baseline trains on one core whatever the thread settings
(800 steps took 66 s with two threads and 65 s with one), while a torch step uses both. Run
side by side, the teacher's multi-task run (two threads) and the CNN (one) finish about 2.7
minutes sooner per 3,000 CNN steps than in turn (``bench/results/all_workflow.md``). Two torch
steps side by side with one thread each gain nothing: torch's two threads already use both cores.
Lanes ask for more threads than there are cores, so their idle BLAS and OpenMP threads are told
to sleep rather than spin, and glibc keeps freed memory for the next batch
(``lane_environment``). Measured with two concept-head runs side by side, each setting twice,
alternated, on one day: student (one thread, 300 steps) and teacher on its cached output (two
threads, 300 steps) 148 / 136 s without, 131 / 119 s with; student and teacher filling its cache
with torch (two threads, 60 steps) 143 / 149 s without, 115 / 129 s with.

Each LANE is a comma-separated list of commands of ``project.yml``, run in order within the
lane; the lanes run at the same time, each with its ``--threads`` (one count for all lanes, or
one per lane) OpenMP/BLAS threads, which torch's default thread count follows. A command runs
exactly as ``spacy project run`` would run it: its deps must exist, it is skipped when
``project.lock`` says nothing changed (``--force`` runs it anyway), ``python`` in its script is
this interpreter, and ``project.lock`` is updated when it succeeds (by this process alone, one
command at a time, so the lanes never write it at once). A command's output goes to
``LOG_DIR/<command>.log``. When a command fails, the rest of its lane is not run, the other lanes
finish, and the exit code is non-zero with the failing command, its exit code and its log named.

A command may depend on one in another lane: it waits until every command of the run whose
``outputs`` hold one of its ``deps`` has finished (``producers``), and is not run if one of them
failed or was not run. So lanes are balanced by minutes rather than by the order of the steps
(``make all``'s student runs beside the teacher's: ``project.yml``). Lanes whose waits would
close a circle are refused before anything runs.
"""

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import typer
from wasabi import msg

from ..errors import Errors
from ..heap import freed_memory_environment
from ._app import app

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# The lanes ask for more threads than there are cores (2 + 1 on 2). An idle OpenBLAS thread spins
# (sched_yield) for 2**28 cycles before it sleeps and an idle OpenMP thread of torch spins too:
# CPU time the other lane needed. OpenBLAS's timeout (log2 cycles, 4 is its least) and OpenMP's
# passive policy put them to sleep at once.
SHARED_CORE_VARIABLES = {"OPENBLAS_THREAD_TIMEOUT": "4", "OMP_WAIT_POLICY": "PASSIVE"}


@dataclass
class CommandRun:
    """What happened to one project command of a lane."""

    name: str
    status: str = "pending"  # pending, skipped, done, failed, not run
    seconds: float = 0.0
    returncode: Optional[int] = None
    log: Optional[Path] = None


@dataclass
class LaneRun:
    commands: List[CommandRun] = field(default_factory=list)


def parse_lanes(lanes: Sequence[str], known: Sequence[str]) -> List[List[str]]:
    """Split each lane ("calibrate,assemble") into command names and check them against
    ``known`` (the commands of project.yml); a name used twice is refused."""
    parsed: List[List[str]] = []
    seen: set = set()
    for lane in lanes:
        names = [name.strip() for name in lane.split(",") if name.strip()]
        if not names:
            raise ValueError(Errors.E605.format(lane=lane))
        for name in names:
            if name not in known:
                raise ValueError(Errors.E606.format(name=name, known=", ".join(known)))
            if name in seen:
                raise ValueError(Errors.E607.format(name=name))
            seen.add(name)
        parsed.append(names)
    return parsed


def _covers(output: str, dep: str) -> bool:
    """Whether a command that writes ``output`` writes (part of) ``dep``: the same path, or one
    inside the other (a folder output and a file dep inside it, or the reverse)."""
    out, need = Path(output).parts, Path(dep).parts
    return out[: len(need)] == need or need[: len(out)] == out


def producers(lanes: Sequence[Sequence[str]], commands: Dict[str, Dict[str, Any]]) -> Dict[str, List[str]]:
    """For each command of the lanes, the other commands of the lanes whose outputs hold one of
    its deps (what it waits for). Refuses lanes whose waits close a circle, counting a lane's
    order as a wait of each command for the one before it (E611)."""
    names = [name for lane in lanes for name in lane]

    def writes_for(other: str, name: str) -> bool:
        outputs, deps = commands[other].get("outputs", []), commands[name].get("deps", [])
        return any(_covers(out, dep) for out in outputs for dep in deps)

    waits = {name: [other for other in names if other != name and writes_for(other, name)] for name in names}
    after = {name: list(waits[name]) for name in names}
    for lane in lanes:
        for before, name in zip(lane, lane[1:]):
            after[name].append(before)
    state: Dict[str, int] = {}  # 1 on the path, 2 finished

    def visit(name: str, path: List[str]) -> None:
        state[name] = 1
        for other in after[name]:
            if state.get(other) == 1:
                circle = path[path.index(other) :] + [other]
                raise ValueError(Errors.E611.format(circle=" -> ".join(reversed(circle))))
            if other not in state:
                visit(other, path + [other])
        state[name] = 2

    for name in names:
        if name not in state:
            visit(name, [name])
    return waits


def lane_threads(threads: Union[int, str, Sequence[int]], n_lanes: int) -> List[int]:
    """Thread counts per lane from one count ("2") or one per lane ("2,1")."""
    if isinstance(threads, str):
        try:
            counts = [int(value) for value in threads.split(",")]
        except ValueError:
            raise ValueError(Errors.E608.format(threads=threads, n=n_lanes)) from None
    elif isinstance(threads, int):
        counts = [threads]
    else:
        counts = [int(value) for value in threads]
    if len(counts) == 1:
        counts = counts * n_lanes
    if len(counts) != n_lanes or any(count < 1 for count in counts):
        raise ValueError(Errors.E608.format(threads=threads, n=n_lanes))
    return counts


def lane_environment(threads: int) -> Dict[str, str]:
    """This process's environment with ``threads`` OpenMP/BLAS threads (torch's default
    intra-op count follows OMP_NUM_THREADS), idle threads that sleep (``SHARED_CORE_VARIABLES``)
    and glibc's raised malloc thresholds (``heap.freed_memory_environment``); a variable already
    set in this process's environment is kept as it is."""
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = str(threads)
    for name, value in {**SHARED_CORE_VARIABLES, **freed_memory_environment()}.items():
        env.setdefault(name, value)
    return env


def script_argv(line: str) -> List[str]:
    """One script line as weasel runs it: ``python``/``pip`` resolve to this interpreter."""
    from weasel.util import split_command

    argv = split_command(line)
    if argv and argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    elif argv and argv[0] in ("pip", "pip3"):
        argv = [sys.executable, "-m", "pip", *argv[1:]]
    return argv


def run_script(script: Sequence[str], *, cwd: Path, env: Dict[str, str], log_path: Path) -> Optional[int]:
    """Run a command's script lines in order, their output to ``log_path``; stop at the first
    that fails. RETURNS (Optional[int]): None when all succeeded, else the failing exit code
    (127 when the program cannot be started)."""
    with log_path.open("w", encoding="utf8") as log:
        for line in script:
            argv = script_argv(line)
            log.write(f"Running command: {' '.join(argv)}\n")
            log.flush()
            try:
                code = subprocess.run(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
            except OSError as err:  # no such program, not executable
                log.write(f"{type(err).__name__}: {err}\n")
                code = 127
            if code != 0:
                return code
    return None


def run_side_by_side(
    project_dir: Path,
    lanes: Sequence[str],
    *,
    threads: Union[int, str, Sequence[int]] = 1,
    log_dir: Optional[Path] = None,
    force: bool = False,
    overrides: Optional[Dict[str, Any]] = None,
) -> List[LaneRun]:
    """Run the lanes at the same time; return what happened to every command.

    project_dir (Path): The folder with project.yml.
    lanes (Sequence[str]): Comma-separated command names, one string per lane.
    threads (Union[int, str, Sequence[int]]): OpenMP/BLAS/torch threads of each lane's
        processes: one count for all lanes, or one per lane (a sequence or "2,1").
    log_dir (Optional[Path]): Where each command's output goes (default project_dir/logs).
    force (bool): Run commands even when project.lock says nothing changed.
    overrides (Optional[Dict[str, Any]]): Variable overrides, as ``spacy project run`` takes them.
    RETURNS (List[LaneRun]): One per lane, its commands in order.
    """
    from weasel.cli.run import check_rerun, update_lockfile
    from weasel.util import load_project_config

    project_dir = Path(project_dir).resolve()
    config = load_project_config(project_dir, overrides=dict(overrides or {}))
    commands = {cmd["name"]: cmd for cmd in config.get("commands", [])}
    names = parse_lanes(lanes, list(commands))
    counts = lane_threads(threads, len(names))
    log_dir = Path(log_dir) if log_dir is not None else project_dir / "logs"
    if not log_dir.is_absolute():
        log_dir = project_dir / log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    waits = producers(names, commands)
    lock = threading.Lock()  # project.lock and the console: one lane at a time
    finished = threading.Condition()  # a command's status became final
    runs = [LaneRun([CommandRun(name) for name in lane]) for lane in names]
    by_name = {run.name: run for lane in runs for run in lane.commands}

    def wait_for_producers(run: CommandRun) -> Optional[CommandRun]:
        """Wait until the commands ``run`` waits for have finished; the first that did not
        succeed, if any."""
        others = [by_name[name] for name in waits[run.name]]
        with finished:
            finished.wait_for(lambda: all(other.status != "pending" for other in others))
        return next((other for other in others if other.status not in ("done", "skipped")), None)

    def run_lane(lane: LaneRun, threads: int) -> None:
        env = lane_environment(threads)
        try:
            run_commands(lane, threads, env)
        finally:
            with finished:
                for run in lane.commands:
                    if run.status == "pending":
                        run.status = "not run"
                finished.notify_all()

    def run_commands(lane: LaneRun, threads: int, env: Dict[str, str]) -> None:
        for i, run in enumerate(lane.commands):
            cmd = commands[run.name]
            if waits[run.name] and any(by_name[name].status == "pending" for name in waits[run.name]):
                with lock:
                    msg.text(f"'{run.name}' waits for {', '.join(waits[run.name])}")
            failed = wait_for_producers(run)
            missing = [dep for dep in cmd.get("deps", []) if not (project_dir / dep).exists()]
            if failed is not None:
                run.status = "not run"
                with lock:
                    status = "failed" if failed.status == "failed" else "was not run"
                    msg.fail(Errors.E612.format(name=run.name, other=failed.name, status=status))
            elif missing:
                run.status = "failed"
                with lock:
                    msg.fail(Errors.E609.format(name=run.name, dep=missing[0]))
            elif not force and not check_rerun(project_dir, cmd):
                run.status = "skipped"
                with lock:
                    msg.info(f"Skipping '{run.name}': nothing changed")
                notify()
                continue
            else:
                run.log = log_dir / f"{run.name}.log"
                with lock:
                    msg.text(f"Running '{run.name}' ({threads} thread(s), output in {run.log})")
                start = time.perf_counter()
                run.returncode = run_script(cmd["script"], cwd=project_dir, env=env, log_path=run.log)
                run.seconds = time.perf_counter() - start
                if run.returncode is None:
                    run.status = "done"
                    with lock:
                        update_lockfile(project_dir, cmd)
                        msg.good(f"'{run.name}' done in {run.seconds / 60:.1f} min")
                    notify()
                    continue
                run.status = "failed"
                with lock:
                    msg.fail(Errors.E610.format(name=run.name, code=run.returncode, log=run.log))
            for rest in lane.commands[i + 1 :]:
                rest.status = "not run"
            return

    def notify() -> None:
        with finished:
            finished.notify_all()

    workers = [threading.Thread(target=run_lane, args=(lane, count), daemon=True) for lane, count in zip(runs, counts)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return runs


@app.command(
    "side-by-side",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def side_by_side_cli(
    ctx: typer.Context,
    lanes: List[str] = typer.Argument(..., metavar="LANE...", help="comma-separated project commands, one lane each"),
    project_dir: Path = typer.Option(Path("."), "--project-dir", help="Folder with project.yml"),
    threads: str = typer.Option("1", "--threads", help="OpenMP/BLAS/torch threads: one count, or one per lane (2,1)"),
    log_dir: Path = typer.Option(Path("logs"), "--log-dir", help="Each command's output, relative to the project"),
    force: bool = typer.Option(False, "--force", "-F", help="Run even when nothing changed"),
) -> None:
    """Run project commands at the same time, one lane each (commands within a lane in order),
    as `spacy project run` runs each of them. Options after the lanes (--vars.name value)
    override project variables as `spacy project run` takes them."""
    from weasel.util import parse_config_overrides

    # click hands unknown options after the lanes to the lane list: they are overrides
    first = next((i for i, arg in enumerate(lanes) if arg.startswith("--")), len(lanes))
    extra = [*lanes[first:], *ctx.args]
    try:
        runs = run_side_by_side(
            project_dir,
            lanes[:first],
            threads=threads,
            log_dir=log_dir,
            force=force,
            overrides=parse_config_overrides(extra),
        )
    except ValueError as err:
        msg.fail(str(err), exits=1)
    rows = [(run.name, run.status, f"{run.seconds / 60:.1f}") for lane in runs for run in lane.commands]
    msg.table(rows, header=("command", "status", "minutes"), divider=True)
    if any(run.status not in ("done", "skipped") for lane in runs for run in lane.commands):
        sys.exit(1)
