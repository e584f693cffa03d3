"""Fetch the project's corpus assets offline-first: from a mirror folder, else from their url,
always checksum-verified and written atomically.

Each asset (from ``configs/assets.yml`` or a ``project.yml``'s ``assets``) has a ``dest`` under
``assets/``. The file is taken from ``<mirror>/<dest without "assets/">`` when the mirror has
it (default mirror: ``$CLINTINY_MIRROR``, else ``../shared/data`` beside the project when it
exists), otherwise downloaded from ``url`` (the ``archive_path`` member when the url is a zip
or tar archive; a ``git`` asset is sparse-checked-out). A file already present with the right
checksum is left alone. A missing public asset is an error naming the file, its url and its
dest; a missing credentialed asset (no url) is an info line saying how to obtain it.
"""

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import srsly

from .errors import Errors, Warnings
from .fileio import atomic_open

PathLike = Union[str, Path]
MIRROR_ENV = "CLINTINY_MIRROR"
OK_STATUSES = ("present", "mirror", "downloaded", "credentialed_missing", "present_unverified", "credentialed_present")


@dataclass
class Asset:
    """One entry of an assets list (the weasel/spaCy asset schema plus a few optional keys)."""

    dest: str
    url: Optional[str] = None
    checksum: Optional[str] = None
    description: str = ""
    git: Optional[Dict[str, str]] = None
    archive_path: Optional[str] = None
    derived: Optional[str] = None
    credentialed: bool = False

    @property
    def mirror_path(self) -> str:
        """The path relative to the mirror: ``dest`` without its leading ``assets/``."""
        parts = Path(self.dest).parts
        return str(Path(*parts[1:])) if parts and parts[0] == "assets" and len(parts) > 1 else self.dest


@dataclass
class AssetResult:
    asset: Asset
    status: str
    message: str = ""
    path: Optional[Path] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES


def checksum(path: PathLike) -> str:
    """md5 of a file, or of a folder's files in sorted path order (what weasel computes)."""
    path = Path(path)
    if path.is_file():
        return hashlib.md5(path.read_bytes()).hexdigest()
    digest = hashlib.md5()
    for sub in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(sub.read_bytes())
    return digest.hexdigest()


def _substitute(value: str, variables: Dict[str, Any]) -> str:
    for key, var in variables.items():
        value = value.replace("${vars.%s}" % key, str(var))
    return value


def load_assets(path: PathLike) -> List[Asset]:
    """Read the ``assets`` list of an assets.yml or project.yml (``${vars.x}`` substituted).

    path (PathLike): The YAML file.
    RETURNS (List[Asset]): The assets.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(Errors.E414.format(path=path))
    data = srsly.read_yaml(path) or {}
    variables = data.get("vars", {}) or {}
    assets = []
    for i, entry in enumerate(data.get("assets") or []):
        if not isinstance(entry, dict) or "dest" not in entry:
            raise ValueError(Errors.E415.format(path=path, i=i))
        entry = {k: _substitute(v, variables) if isinstance(v, str) else v for k, v in entry.items()}
        known = {k: entry[k] for k in Asset.__dataclass_fields__ if k in entry}
        assets.append(Asset(**known))
    return assets


def find_project_dir(path: PathLike) -> Path:
    """The folder holding ``project.yml``: the file's own folder if it is a project.yml,
    else the nearest parent folder with a project.yml, else the file's folder's parent when
    the file sits in ``configs/``, else the file's folder."""
    path = Path(path).resolve()
    if path.name == "project.yml":
        return path.parent
    for parent in path.parents:
        if (parent / "project.yml").exists():
            return parent
    return path.parent.parent if path.parent.name == "configs" else path.parent


def default_mirror(project_dir: PathLike) -> Optional[Path]:
    """``$CLINTINY_MIRROR`` if set, else ``<project_dir>/../shared/data`` when it exists."""
    env = os.environ.get(MIRROR_ENV)
    if env:
        return Path(env)
    candidate = Path(project_dir).resolve().parent / "shared" / "data"
    return candidate if candidate.exists() else None


def _install(src: Path, dest: Path) -> None:
    """Copy a file (atomically, see ``fileio.atomic_open``) or a folder (through a staged
    temporary sibling and ``os.replace``) to ``dest``, replacing what is there."""
    if not src.is_dir():
        if dest.is_dir():
            shutil.rmtree(dest)
        with src.open("rb") as source, atomic_open(dest, "wb") as target:
            shutil.copyfileobj(source, target)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=str(dest.parent), prefix=f".{dest.name}."))
    try:
        staged = tmp / dest.name
        shutil.copytree(src, staged)
        if dest.is_dir():
            shutil.rmtree(dest)
        elif dest.exists():
            dest.unlink()
        os.replace(staged, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _download(asset: Asset, workdir: Path, timeout: float) -> Path:
    """Download ``asset.url`` into ``workdir`` (extracting ``archive_path``); return the file."""
    if asset.url is None:
        raise ValueError(f"asset {asset.dest} has no url")
    with urllib.request.urlopen(asset.url, timeout=timeout) as response:  # noqa: S310 (urls from our config)
        data = response.read()
    target = workdir / Path(asset.dest).name
    if asset.archive_path:
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                target.write_bytes(archive.read(asset.archive_path))
        else:
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                member = archive.extractfile(asset.archive_path)
                if member is None:
                    raise KeyError(asset.archive_path)
                target.write_bytes(member.read())
    else:
        target.write_bytes(data)
    return target


def _git_checkout(asset: Asset, workdir: Path) -> Path:
    git = asset.git or {}
    clone = workdir / "repo"
    subprocess.run(
        [
            "git",
            "clone",
            "--quiet",
            "--depth",
            "1",
            "--filter=blob:none",
            "--sparse",
            "--branch",
            git.get("branch", "master"),
            git["repo"],
            str(clone),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(["git", "-C", str(clone), "sparse-checkout", "set", git["path"]], check=True, capture_output=True)
    return clone / git["path"]


def fetch_asset(
    asset: Asset,
    *,
    project_dir: Path,
    mirror: Optional[Path],
    download: bool = True,
    timeout: float = 60.0,
) -> AssetResult:
    """Make one asset present and verified (see the module docstring).

    RETURNS (AssetResult): status "present", "present_unverified", "mirror", "downloaded",
        "credentialed_missing" / "credentialed_present", or an error status "checksum_mismatch"
        / "missing".
    """
    dest = project_dir / asset.dest
    if dest.exists():
        if asset.credentialed:
            return AssetResult(asset, "credentialed_present", path=dest)
        if asset.checksum is None:
            return AssetResult(asset, "present_unverified", path=dest)
        if checksum(dest) == asset.checksum:
            return AssetResult(asset, "present", path=dest)
    source = mirror / asset.mirror_path if mirror is not None else None
    if source is not None and source.exists():
        got = checksum(source)
        if asset.checksum is not None and got != asset.checksum:
            return AssetResult(
                asset,
                "checksum_mismatch",
                Errors.E416.format(src=source, got=got, expected=asset.checksum, dest=asset.dest),
                extra={"source": str(source)},
            )
        _install(source, dest)
        return AssetResult(asset, "mirror", path=dest, extra={"source": str(source)})
    if asset.credentialed or (asset.url is None and asset.git is None):
        return AssetResult(asset, "credentialed_missing", Warnings.W400.format(dest=asset.dest, how=asset.description))
    where = asset.url or f"git {asset.git.get('repo')} {asset.git.get('path')}"  # type: ignore[union-attr]
    if not download:
        return AssetResult(
            asset, "missing", Errors.E417.format(dest=asset.dest, url=where, mirror=source, err="downloads disabled")
        )
    with tempfile.TemporaryDirectory() as tmp:
        try:
            fetched = _download(asset, Path(tmp), timeout) if asset.url else _git_checkout(asset, Path(tmp))
        except Exception as err:  # network, archive or git failure: report it, do not crash the rest
            return AssetResult(
                asset,
                "missing",
                Errors.E417.format(dest=asset.dest, url=where, mirror=source, err=f"{type(err).__name__}: {err}"),
            )
        got = checksum(fetched)
        if asset.checksum is not None and got != asset.checksum:
            hint = f" This asset is derived ({asset.derived}): take it from the mirror." if asset.derived else ""
            return AssetResult(
                asset,
                "checksum_mismatch",
                Errors.E416.format(src=where, got=got, expected=asset.checksum, dest=asset.dest) + hint,
            )
        _install(fetched, dest)
    return AssetResult(asset, "downloaded", path=dest, extra={"url": where})


def fetch_assets(
    path: PathLike,
    *,
    mirror: Optional[PathLike] = None,
    project_dir: Optional[PathLike] = None,
    download: bool = True,
    timeout: float = 60.0,
) -> List[AssetResult]:
    """Fetch every asset listed in an assets.yml or project.yml.

    path (PathLike): The YAML file.
    mirror (Optional[PathLike]): Mirror folder (default: see ``default_mirror``).
    project_dir (Optional[PathLike]): Where ``dest`` paths are resolved (default: see
        ``find_project_dir``).
    download (bool): Try the url when the mirror lacks a file.
    timeout (float): Seconds per download.
    RETURNS (List[AssetResult]): One result per asset, in file order.
    """
    project = Path(project_dir) if project_dir is not None else find_project_dir(path)
    mirror_dir = Path(mirror) if mirror is not None else default_mirror(project)
    return [
        fetch_asset(a, project_dir=project, mirror=mirror_dir, download=download, timeout=timeout)
        for a in load_assets(path)
    ]
