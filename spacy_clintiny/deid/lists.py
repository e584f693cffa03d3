"""The small files ``clintiny deid`` reads besides notes: allow and deny lists, the secret key.

Errors name the file and line, never the term: a deny list holds patient and staff names.
"""

import os
from pathlib import Path
from typing import Dict, List, Optional, Union

from ..converters.labels import PHI_LABELS
from ..errors import Errors

KEY_ENV = "CLINTINY_DEID_KEY"
MIN_KEY_CHARS = 16
PathLike = Union[str, Path]


def _lines(path: PathLike) -> List[str]:
    return Path(path).read_text(encoding="utf-8-sig").splitlines()


def read_allow_list(path: PathLike) -> List[str]:
    """Terms never redacted: one a line; blank lines and lines starting with "#" are ignored.

    path (PathLike): The file (UTF-8).
    RETURNS (List[str]): The terms, stripped.
    """
    return [line.strip() for line in _lines(path) if line.strip() and not line.lstrip().startswith("#")]


def read_deny_list(path: PathLike) -> Dict[str, List[str]]:
    """Terms always redacted: ``LABEL<TAB>term`` a line (LABEL a PHI category); blank lines
    and lines starting with "#" are ignored.

    path (PathLike): The file (UTF-8).
    RETURNS (Dict[str, List[str]]): PHI category -> terms.
    """
    out: Dict[str, List[str]] = {}
    for i, line in enumerate(_lines(path), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[1].strip():
            problem = f"{len(parts)} tab-separated field(s)" if len(parts) != 2 else "an empty term"
            raise ValueError(
                Errors.E758.format(
                    path=path, line=i, problem=problem, expected="LABEL<TAB>term", labels=", ".join(PHI_LABELS)
                )
            )
        label = parts[0].strip().upper()
        if label not in PHI_LABELS:
            # the field is not shown: with the columns swapped it is the term, a name
            problem = "its first field is not a PHI category (are the columns swapped?)"
            raise ValueError(
                Errors.E758.format(
                    path=path, line=i, problem=problem, expected="LABEL<TAB>term", labels=", ".join(PHI_LABELS)
                )
            )
        out.setdefault(label, []).append(parts[1].strip())
    return out


def secret_bytes(key: Optional[Union[str, bytes]]) -> bytes:
    """The secret behind surrogates, hash codes and encryption as bytes.

    key (Optional[Union[str, bytes]]): str (UTF-8 encoded), bytes, or None for 32 random bytes
        (consistent within one run only).
    RETURNS (bytes): The secret, never empty.
    """
    if key is None:
        return os.urandom(32)
    if isinstance(key, str):
        key = key.encode("utf8")
    elif not isinstance(key, bytes):
        raise ValueError(Errors.E730.format(type=type(key).__name__))
    if not key:
        raise ValueError(Errors.E729)
    return key


def read_surrogate_key(key_file: Optional[PathLike] = None) -> Optional[str]:
    """The secret for deterministic surrogates: from ``key_file``, else the environment
    variable ``CLINTINY_DEID_KEY``, else None (a random key: consistent within one run only).

    key_file (Optional[PathLike]): A file holding the key (surrounding whitespace ignored).
    RETURNS (Optional[str]): The key.
    """
    if key_file is not None:
        path = Path(key_file)
        if not path.is_file():
            raise ValueError(Errors.E754.format(path=path, problem="does not exist"))
        key = path.read_text(encoding="utf-8-sig").strip()
        where = str(path)
    else:
        key = os.environ.get(KEY_ENV, "").strip()
        where = f"${KEY_ENV}"
        if not key:
            return None
    if len(key) < MIN_KEY_CHARS:
        raise ValueError(Errors.E754.format(path=where, problem=f"holds a key shorter than {MIN_KEY_CHARS} characters"))
    return key
