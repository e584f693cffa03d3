"""What the Spark tests share besides fixtures: the surrogate key, the note template and the
check that Spark can run here."""

import os
import random
import shutil

import pytest

KEY = "spark-test-key-0123456789"
FIRST = ["John", "Mary", "Ana", "Omar", "Li", "Grace", "Peter", "Ines"]
LAST = ["Smith", "Jones", "Garcia", "Haddad", "Chen", "Okafor", "Novak", "Silva"]


def require_spark():
    """Skip (fail under CI=true) when pyspark or a Java runtime is missing."""
    problems = []
    try:
        import pyarrow  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as err:
        problems.append(f"pyspark/pyarrow not importable ({err}): pip install 'spacy-clintiny[spark]'")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        problems.append("no Java runtime (java on PATH or JAVA_HOME): apt-get install openjdk-17-jre-headless")
    if problems:
        reason = "; ".join(problems)
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason, allow_module_level=True)


def make_note(i: int, rng: random.Random) -> str:
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    date = f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/20{rng.randint(10, 23)}"
    phone = f"617-555-{rng.randint(0, 9999):04d}"
    body = rng.choice(
        [
            "Denies chest pain.",
            "Started aspirin, then developed a rash.",
            "Reports fever since yesterday.\nNo chest pain.",
            "Mother had chest pain.",
        ]
    )
    return f"Pt {name} seen {date}. Call {phone}.\n{body} Note {i}."
