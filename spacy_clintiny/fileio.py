"""Atomic file writes: the one home for "write to a temporary sibling, then rename".

A reader never sees a half-written output, and a run killed mid-write leaves either the old
file or none: the temporary sibling (``.<name>.<random>.tmp``) is removed on any error, and a
stale one from a killed process is never mistaken for an output because of its name.

``check_outputs`` is the one check, before anything is written, that no output of a command
lands on or inside one of its inputs (inputs are never overwritten).
"""

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Dict, Iterator, Optional, Sequence, Union

PathLike = Union[str, Path]
TMP_SUFFIX = ".tmp"


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}."


def temporary_target(tmp: PathLike) -> Optional[Path]:
    """The output a temporary sibling left by a killed write was for (``.a.txt.k3j9x2q1.tmp`` ->
    ``a.txt``), or None if ``tmp`` is not named like one."""
    tmp = Path(tmp)
    name = tmp.name
    if not (name.startswith(".") and name.endswith(TMP_SUFFIX)):
        return None
    stem = name[1 : -len(TMP_SUFFIX)].rpartition(".")[0]  # mkstemp adds ".<random>"
    return tmp.parent / stem if stem else None


@contextlib.contextmanager
def atomic_open(
    path: PathLike,
    mode: str = "w",
    *,
    encoding: str = "utf8",
    newline: Union[str, None] = None,
    sync: bool = True,
) -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; on a clean exit it is flushed, synced
    and renamed onto ``path``, on an exception it is removed and ``path`` is left untouched.

    path (PathLike): The final output path. Its folder is created if needed.
    mode (str): "w" (text) or "wb" (bytes).
    encoding (str): Text encoding (text mode only).
    newline (Optional[str]): As for ``open`` (text mode only).
    sync (bool): fsync before the rename, so the file survives a power loss as well as a killed
        process. A cache whose reader checks every file (and recomputes a bad one) can skip it.
    YIELDS (IO): The open temporary file.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'w' or 'wb', not {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), suffix=TMP_SUFFIX, dir=path.parent)
    try:
        if mode == "wb":
            handle = os.fdopen(fd, "wb")
        else:
            handle = os.fdopen(fd, "w", encoding=encoding, newline=newline)
        with handle:
            yield handle
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        set_default_permissions(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: PathLike, *, suffix: str = TMP_SUFFIX) -> Iterator[Path]:
    """A temporary sibling path for a library that writes to a path itself (``torch.save``,
    ``savefig``, safetensors' ``save_file``): on a clean exit it is renamed onto ``path``
    with a normal file's permissions, on an exception it is removed.

    path (PathLike): The final output path. Its folder is created if needed.
    suffix (str): Suffix of the temporary name (some writers pick the format from it, e.g.
        ".png" for matplotlib).
    YIELDS (Path): The temporary path to write to.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        set_default_permissions(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def set_default_permissions(path: Path) -> None:
    """Give a file made with ``mkstemp`` (mode 0600) the permissions of a normal new file."""
    os.chmod(path, 0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: PathLike, text: str, *, encoding: str = "utf8") -> None:
    """Write ``text`` to ``path`` atomically (newlines written as given)."""
    with atomic_open(path, "w", encoding=encoding, newline="") as handle:
        handle.write(text)


def write_bytes_atomic(path: PathLike, data: bytes, *, sync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (``sync``: as for ``atomic_open``)."""
    with atomic_open(path, "wb", sync=sync) as handle:
        handle.write(data)


def write_json_atomic(path: PathLike, data: Any, *, indent: int = 2) -> None:
    """Write ``data`` as JSON (UTF-8, trailing newline) to ``path`` atomically."""
    write_text_atomic(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")


def is_inside(path: PathLike, folder: PathLike) -> bool:
    """Whether ``path``, links resolved, is ``folder`` or inside it."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def check_not_input(path: PathLike, source: PathLike) -> None:
    """Raise E747 if writing ``path`` would overwrite the input ``source`` (the same file, also
    through a link) or write inside it (a folder)."""
    from .errors import Errors

    path, source = Path(path), Path(source)
    if source.is_dir():
        if is_inside(path, source):
            raise ValueError(Errors.E747.format(output=path, relation="inside", input=source))
    elif path.resolve() == source.resolve() or (path.exists() and path.samefile(source)):
        raise ValueError(Errors.E747.format(output=path, relation="the same file as", input=source))


def check_outputs(
    outputs: Dict[str, Optional[PathLike]],
    inputs: Dict[str, Optional[PathLike]],
    *,
    replaced: Sequence[str] = (),
) -> None:
    """Refuse, before anything is written, an output that would overwrite an input or write
    inside an input folder, two outputs on one path, and a folder output that is replaced whole
    (``replaced``) while it holds an input.

    outputs (Dict[str, Optional[PathLike]]): What the command writes, by the name the user knows
        it by ("OUTPUT", "--report"); None entries are skipped.
    inputs (Dict[str, Optional[PathLike]]): What it reads (paths that do not exist are skipped:
        hub ids, "default").
    replaced (Sequence[str]): Names of the folder outputs that are replaced whole (with --force).
    RAISES ValueError: E747 or E914, naming the paths.
    """
    from .errors import Errors

    written = [(name, Path(path)) for name, path in outputs.items() if path is not None]
    read = [Path(path) for path in inputs.values() if path is not None and Path(path).exists()]
    for i, (name, path) in enumerate(written):
        for other, other_path in written[:i]:
            if path.resolve() == other_path.resolve():
                raise ValueError(Errors.E914.format(path=path, first=other, second=name))
        for source in read:
            check_not_input(path, source)
            if name in replaced and path.is_dir() and is_inside(source, path):
                raise ValueError(Errors.E747.format(output=path, relation="a folder containing", input=source))
