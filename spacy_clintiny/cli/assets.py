"""``clintiny assets PROJECT_YML_OR_ASSETS_YML``: fetch corpus assets from a mirror or their
url, verify checksums, write atomically (see ``spacy_clintiny.assets``)."""

from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from ._app import app


@app.command("assets")
def assets_cli(
    path: Path = typer.Argument(..., metavar="PROJECT_YML_OR_ASSETS_YML", help="configs/assets.yml or a project.yml"),
    mirror: Optional[Path] = typer.Option(
        None, "--mirror", help="Mirror folder (default $CLINTINY_MIRROR, else ../shared/data beside the project)"
    ),
    project_dir: Optional[Path] = typer.Option(
        None, "--project-dir", help="Where dest paths are resolved (default: the folder with project.yml)"
    ),
    no_download: bool = typer.Option(False, "--no-download", help="Never use the network: mirror or nothing"),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds per download"),
) -> None:
    """Make every asset present and checksum-verified: from the mirror, else downloaded.
    Exits non-zero when a public asset is missing or has the wrong checksum; a missing
    credentialed corpus only prints how to obtain it."""
    from ..assets import fetch_assets

    try:
        results = fetch_assets(path, mirror=mirror, project_dir=project_dir, download=not no_download, timeout=timeout)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    counts = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
        dest = result.asset.dest
        if result.status == "present":
            msg.text(f"present, checksum ok: {dest}")
        elif result.status in ("mirror", "downloaded"):
            origin = result.extra.get("source") or result.extra.get("url")
            msg.good(f"{result.status}: {dest} (from {origin})")
        elif result.status in ("present_unverified", "credentialed_present"):
            msg.text(f"present (no checksum to verify): {dest}")
        elif result.status == "credentialed_missing":
            msg.info(result.message)
        else:
            msg.fail(result.message)
    msg.info(", ".join(f"{status}: {n}" for status, n in sorted(counts.items())))
    if any(not r.ok for r in results):
        msg.fail("Some public assets are missing or do not match their checksum (see above).", exits=1)
