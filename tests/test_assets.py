"""clintiny assets with a temporary mirror: copy + verify, skip when present, wrong checksum,
download through file:// urls (plain and from a zip), folders, credentialed entries."""

import hashlib
import zipfile

import pytest
import srsly
from typer.testing import CliRunner

from helpers import ROOT, require_shared_data
from spacy_clintiny.assets import checksum, fetch_assets, load_assets


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def project(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "corpus").mkdir(parents=True)
    (mirror / "corpus" / "good.txt").write_bytes(b"good data\n")
    (mirror / "corpus" / "bad.txt").write_bytes(b"tampered\n")
    (mirror / "corpus" / "folder").mkdir()
    (mirror / "corpus" / "folder" / "a.ann").write_bytes(b"T1\tX 0 1\ta\n")
    (mirror / "corpus" / "folder" / "a.txt").write_bytes(b"a\n")
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    (upstream / "remote.txt").write_bytes(b"remote data\n")
    with zipfile.ZipFile(upstream / "bundle.zip", "w") as z:
        z.writestr("bundle/inner.txt", "inside the zip\n")
    proj = tmp_path / "proj"
    (proj / "configs").mkdir(parents=True)
    (proj / "project.yml").write_text("title: test\n")
    assets = [
        {
            "dest": "assets/corpus/good.txt",
            "url": "http://127.0.0.1:9/good.txt",
            "checksum": md5(b"good data\n"),
            "description": "in the mirror",
        },
        {
            "dest": "assets/corpus/folder",
            "git": {"repo": "https://example.invalid/repo", "path": "folder"},
            "checksum": checksum(mirror / "corpus" / "folder"),
            "description": "a folder",
        },
        {
            "dest": "assets/corpus/remote.txt",
            "url": (upstream / "remote.txt").as_uri(),
            "checksum": md5(b"remote data\n"),
            "description": "downloaded",
        },
        {
            "dest": "assets/corpus/inner.txt",
            "url": (upstream / "bundle.zip").as_uri(),
            "archive_path": "bundle/inner.txt",
            "checksum": md5(b"inside the zip\n"),
            "description": "from an archive",
        },
        {
            "dest": "assets/secret/notes.csv",
            "description": "Sign the DUA, then put notes.csv here.",
            "credentialed": True,
        },
    ]
    srsly.write_yaml(proj / "configs" / "assets.yml", {"assets": assets})
    return proj, mirror, assets


def test_fetch_from_mirror_and_urls(project):
    proj, mirror, _ = project
    results = fetch_assets(proj / "configs" / "assets.yml", mirror=mirror)
    assert [r.status for r in results] == ["mirror", "mirror", "downloaded", "downloaded", "credentialed_missing"]
    assert (proj / "assets" / "corpus" / "good.txt").read_bytes() == b"good data\n"
    assert (proj / "assets" / "corpus" / "folder" / "a.ann").exists()
    assert (proj / "assets" / "corpus" / "inner.txt").read_text() == "inside the zip\n"
    assert "W400" in results[-1].message and "Sign the DUA" in results[-1].message
    assert not list((proj / "assets" / "corpus").glob(".*"))  # no temporary leftovers
    # a second run leaves verified files alone
    mtime = (proj / "assets" / "corpus" / "good.txt").stat().st_mtime_ns
    again = fetch_assets(proj / "configs" / "assets.yml", mirror=mirror)
    assert [r.status for r in again][:4] == ["present"] * 4
    assert (proj / "assets" / "corpus" / "good.txt").stat().st_mtime_ns == mtime


def test_wrong_checksum_and_missing_file_are_errors(project, tmp_path):
    proj, mirror, assets = project
    assets[0]["dest"] = "assets/corpus/bad.txt"  # the mirror copy does not match the pinned md5
    assets[2]["url"] = "http://127.0.0.1:9/remote.txt"  # unreachable
    assets[2]["dest"] = "assets/corpus/absent.txt"
    srsly.write_yaml(proj / "configs" / "assets.yml", {"assets": assets})
    results = fetch_assets(proj / "configs" / "assets.yml", mirror=mirror, timeout=5)
    bad, _, missing = results[0], results[1], results[2]
    assert bad.status == "checksum_mismatch" and "E416" in bad.message and "bad.txt" in bad.message
    assert not (proj / "assets" / "corpus" / "bad.txt").exists()
    assert missing.status == "missing" and "http://127.0.0.1:9/remote.txt" in missing.message
    assert "assets/corpus/absent.txt" in missing.message


def test_cli_exit_code_and_default_mirror(project, monkeypatch):
    from spacy_clintiny.cli import app

    proj, mirror, _ = project
    monkeypatch.setenv("CLINTINY_MIRROR", str(mirror))
    result = CliRunner().invoke(app, ["assets", str(proj / "configs" / "assets.yml")])
    assert result.exit_code == 0, result.output
    (mirror / "corpus" / "good.txt").write_bytes(b"changed\n")
    (proj / "assets" / "corpus" / "good.txt").unlink()
    result = CliRunner().invoke(app, ["assets", str(proj / "configs" / "assets.yml"), "--no-download"])
    assert result.exit_code == 1 and "E416" in result.output


def test_project_assets_file_is_consistent():
    """configs/assets.yml: every public file has url + md5, credentialed ones a description."""
    from pathlib import Path

    assets = load_assets(Path(__file__).resolve().parents[1] / "configs" / "assets.yml")
    assert len({a.dest for a in assets}) == len(assets)
    for a in assets:
        assert a.dest.startswith("assets/") and a.description
        if a.credentialed:
            assert a.url is None and a.checksum is None
        else:
            assert (a.url or a.git) and len(a.checksum or "") == 32
    assert {
        "assets/physionet-deid/id.text",
        "assets/mtsamples/mtsamples.part00.jsonl",
        "assets/bc5cdr/pubtator/CDR_TrainingSet.PubTator.txt",
        "assets/mednli",
    } <= {a.dest for a in assets}


def test_pinned_checksums_match_the_mirror():
    mirror = require_shared_data()
    for a in load_assets(ROOT / "configs" / "assets.yml"):
        if not a.credentialed:
            assert checksum(mirror / a.mirror_path) == a.checksum, a.dest
