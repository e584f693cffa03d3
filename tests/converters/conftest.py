"""Shared fixtures: the real public corpora (converted once per session) and the invented
fixtures for credentialed formats."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
DATA = Path(os.environ.get("CLINTINY_MIRROR", ROOT.parent / "shared" / "data"))


def data_path(*parts: str) -> Path:
    """A file of the public corpora mirror; skips the test when the mirror is absent."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"public corpus mirror not available: {path}")
    return path


@pytest.fixture(scope="session")
def data():
    """``data("physionet-deid", "id.text")``: a path in the public corpora mirror (skips if absent)."""
    return data_path


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def physionet_docs():
    from spacy_clintiny.converters import ConversionReport, read_physionet

    report = ConversionReport("physionet")
    folder = data_path("physionet-deid")
    docs = list(read_physionet(folder / "id.text", folder / "id-phi.phrase", report=report))
    return docs, report


@pytest.fixture(scope="session")
def ade_docs():
    from spacy_clintiny.converters import ConversionReport, read_ade

    report = ConversionReport("ade")
    docs = list(read_ade(data_path("ade-corpus-v2"), report=report))
    return docs, report
