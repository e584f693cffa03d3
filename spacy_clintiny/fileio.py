"""Atomic file writes: the one home for "write to a temporary sibling, then rename".

A reader never sees a half-written output, and a run killed mid-write leaves either the old
file or none: the temporary sibling (``.<name>.<random>.tmp``) is removed on any error, and a
stale one from a killed process is never mistaken for an output because of its name.
"""

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator, Union

PathLike = Union[str, Path]
TMP_SUFFIX = ".tmp"


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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
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
