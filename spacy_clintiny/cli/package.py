"""``clintiny check-package``: load a packaged pipeline in a fresh process, away from the
project folder and with no network, and annotate a note."""

import os
import subprocess
import sys
import tempfile

import typer
from wasabi import msg

from ._app import app

SAMPLE_NOTE = (
    "HISTORY: Pt is a 67 yo man seen 03/14/2021 at Mercy Hospital by Dr. Alan Reyes. "
    "He denies chest pain. Mother had breast cancer. Started aspirin 81 mg daily for CAD; "
    "developed a rash after amoxicillin. Plan: repeat CBC and chest x-ray."
)

CHECK_SCRIPT = """
import json, sys, spacy
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
print(json.dumps(out))
"""


def check_package(name_or_path: str) -> dict:
    """Load ``name_or_path`` with ``spacy.load`` in a fresh interpreter, in an empty temporary
    folder, with hub access switched off, and annotate a sample note.

    RETURNS (dict): What the pipeline produced (counts only, no text).
    """
    import json

    path = os.path.abspath(name_or_path) if os.path.exists(name_or_path) else name_or_path
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
    if proc.returncode != 0:
        raise RuntimeError(f"spacy.load('{name_or_path}') failed in a fresh process:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@app.command("check-package")
def check_package_cli(
    name_or_path: str = typer.Argument(..., help="Installed package name (en_clintiny_sm) or a pipeline folder"),
) -> None:
    """Check that a pipeline loads with spacy.load in a fresh process, offline, outside the project."""
    try:
        result = check_package(name_or_path)
    except RuntimeError as err:
        msg.fail(str(err), exits=1)
    msg.good(f"spacy.load('{name_or_path}') works in a fresh process", str(result))
    if not result["offsets_ok"]:
        msg.fail("Some span offsets do not index the text exactly", exits=1)
