"""``clintiny check-package``: load a packaged pipeline in a fresh process, away from the
project folder and with no network, and annotate a note. A missing, incomplete or damaged
pipeline ends in one error that names the file."""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict

import typer
from wasabi import msg

from ..errors import Errors
from ..models import PipelineLoadError, check_pipeline_folder
from ._app import app

SAMPLE_NOTE = (
    "HISTORY: Pt is a 67 yo man seen 03/14/2021 at Mercy Hospital by Dr. Alan Reyes. "
    "He denies chest pain. Mother had breast cancer. Started aspirin 81 mg daily for CAD; "
    "developed a rash after amoxicillin. Plan: repeat CBC and chest x-ray."
)

# Prints one JSON line: what the pipeline produced (counts only), or the error (type and
# message: loading errors name files, never note text).
CHECK_SCRIPT = """
import json, sys
try:
    import spacy
    nlp = spacy.load(sys.argv[1])
    doc = nlp(sys.argv[2])
    out = {
        "pipeline": nlp.pipe_names,
        "span_groups": {k: len(v) for k, v in doc.spans.items()},
        "ents": len(doc.ents),
        "context_attrs": all(hasattr(e._, "is_negated") for e in doc.ents),
        "cats": len(doc.cats),
        "rels": len(doc._.clintiny_rels or []) if doc.has_extension("clintiny_rels") else None,
        "offsets_ok": all(doc.text[s.start_char:s.end_char] == s.text for g in doc.spans.values() for s in g),
    }
except Exception as err:
    out = {"error": " ".join(str(err).split())[:600], "error_type": type(err).__name__}
print(json.dumps(out))
"""


def check_package(name_or_path: str) -> Dict[str, Any]:
    """Load ``name_or_path`` with ``spacy.load`` in a fresh interpreter, in an empty temporary
    folder, with hub access switched off, and annotate a sample note.

    name_or_path (str): An installed pipeline package or a pipeline folder.
    RETURNS (Dict[str, Any]): What the pipeline produced (counts only, no text).
    """
    path = _resolve(name_or_path)
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        NO_PROXY="*",
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
    )
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.run(
            [sys.executable, "-c", CHECK_SCRIPT, path, SAMPLE_NOTE], cwd=cwd, env=env, capture_output=True, text=True
        )
    lines = proc.stdout.strip().splitlines()
    result = _json_line(lines[-1]) if lines else None
    if result is None:  # the interpreter died before printing (a crash in native code)
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        raise PipelineLoadError(Errors.E846.format(path=name_or_path, error=tail[0][:300]))
    if "error" in result:
        if "(spacy-clintiny) [E8" in result["error"]:  # our loading errors name the file already
            raise PipelineLoadError(result["error"])
        raise PipelineLoadError(
            Errors.E846.format(path=name_or_path, error=f"{result['error_type']}: {result['error']}")
        )
    return result


def _resolve(name_or_path: str) -> str:
    """A pipeline folder (checked: config and meta readable) as an absolute path, or the
    name of an installed package."""
    if os.path.exists(name_or_path):
        return str(check_pipeline_folder(Path(name_or_path).resolve()))
    looks_like_path = os.sep in name_or_path or "/" in name_or_path or name_or_path.startswith(".")
    if looks_like_path or importlib.util.find_spec(name_or_path) is None:
        raise PipelineLoadError(Errors.E842.format(path=name_or_path))
    return name_or_path


def _json_line(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


@app.command("check-package")
def check_package_cli(
    name_or_path: str = typer.Argument(..., help="Installed package name (en_clintiny_sm) or a pipeline folder"),
) -> None:
    """Check that a pipeline loads with spacy.load in a fresh process, offline, outside the project."""
    try:
        result = check_package(name_or_path)
    except PipelineLoadError as err:
        msg.fail(str(err), exits=1)
    msg.good(f"spacy.load('{name_or_path}') works in a fresh process", str(result))
    if not result["offsets_ok"]:
        msg.fail("Some span offsets do not index the text exactly", exits=1)
