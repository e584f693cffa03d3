"""Minutes per step of a finished ``make all``, from the times its outputs were last written.

    python bench/workflow_minutes.py /work/fresh20 --start 1796602198
    python bench/workflow_minutes.py . --start "$(stat -c %Y project.yml)" --json minutes.json

``make all`` prints no timings of its own and a clone is often measured after the fact, so this
reads the project's ``project.yml`` (its workflow, and each command's ``outputs`` and
``outputs_no_cache``) and takes, for every command, the newest modification time of anything
under its outputs as the time the command ended. A step's minutes are its end minus the end of
the step before it; the first step (creating the virtualenv, ``.venv/bin/.installed``) counts
from ``--start``, the epoch second the clone was made (``date +%s`` when you start it). The
commands that ``clintiny side-by-side`` runs as lanes are timed within their lane, each lane
from the end of the step before ``train-side-by-side``. A command without outputs (``install``),
whose outputs are missing or older than the step before (skipped as up to date) shows "-" and
does not move the clock. Re-running a step later moves its end: time a clone before anything
else runs in it.
"""

import argparse
import shlex
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from weasel.util import load_project_config

from spacy_clintiny.fileio import write_json_atomic


def newest_mtime(root: Path, outputs: Sequence[str]) -> Optional[float]:
    """The newest modification time of the outputs' files (under folders too: a folder's own time
    moves when anything is created in it, so it is not used)."""
    times: List[float] = []
    for output in outputs:
        path = root / output
        if path.is_dir():
            times.extend(p.stat().st_mtime for p in path.rglob("*") if p.is_file())
        elif path.exists():
            times.append(path.stat().st_mtime)
    return max(times) if times else None


def _outputs(command: dict) -> List[str]:
    return list(command.get("outputs", [])) + list(command.get("outputs_no_cache", []))


def _advance(clock: float, end: Optional[float]) -> Tuple[Optional[float], float]:
    """(minutes, new clock) of a command that ended at ``end`` after ``clock``: no minutes and
    the same clock when it has no end or ended before (its outputs are older than the run)."""
    if end is None or end < clock:
        return None, clock
    return (end - clock) / 60, end


def side_by_side_lanes(script: Sequence[str]) -> Optional[List[List[str]]]:
    """The lanes of a ``clintiny side-by-side A,B C,D ...`` line, or None."""
    for line in script:
        words = shlex.split(line)
        if words[:2] == ["clintiny", "side-by-side"]:
            lanes = []
            for word in words[2:]:
                if word.startswith("-"):
                    break
                lanes.append(word.split(","))
            return lanes
    return None


def step_minutes(root: Path, start: float, workflow: str = "all") -> List[Tuple[str, str, Optional[float]]]:
    """(step, lane, minutes) for every step of the workflow, lane commands under their step."""
    config = load_project_config(root)
    commands: Dict[str, dict] = {cmd["name"]: cmd for cmd in config.get("commands", [])}
    if workflow not in config.get("workflows", {}):
        raise SystemExit(
            f"no workflow {workflow!r} in {root / 'project.yml'}: choose one of {sorted(config['workflows'])}"
        )
    rows: List[Tuple[str, str, Optional[float]]] = []
    clock = start
    installed = root / ".venv" / "bin" / ".installed"  # the Makefile's mark of a finished setup
    if installed.exists():
        minutes, clock = _advance(clock, installed.stat().st_mtime)
        rows.append(("venv (make setup)", "", minutes))
    for name in config["workflows"][workflow]:
        command = commands[name]
        lanes = side_by_side_lanes(command.get("script", []))
        if lanes:
            ends = []
            for index, lane in enumerate(lanes, start=1):
                lane_clock = clock
                for lane_name in lane:
                    minutes, lane_clock = _advance(lane_clock, newest_mtime(root, _outputs(commands[lane_name])))
                    rows.append((lane_name, f"lane {index}", minutes))
                ends.append(lane_clock)
            minutes, clock = _advance(clock, max(ends))
        else:
            minutes, clock = _advance(clock, newest_mtime(root, _outputs(command)))
        rows.append((name, "", minutes))
    rows.append(("total to the last output", "", (clock - start) / 60))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path, help="the clone's folder (holds project.yml)")
    parser.add_argument("--start", type=float, required=True, help="epoch seconds when the clone was made")
    parser.add_argument("--workflow", default="all")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args()
    rows = step_minutes(args.project.resolve(), args.start, args.workflow)
    print("| step | lane | minutes |\n|---|---|---:|")
    for step, lane, minutes in rows:
        print(f"| {step} | {lane} | {'-' if minutes is None else f'{minutes:.1f}'} |")
    if args.json:
        write_json_atomic(args.json, [{"step": s, "lane": lane, "minutes": m} for s, lane, m in rows])


if __name__ == "__main__":
    main()
