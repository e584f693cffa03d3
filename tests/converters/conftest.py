"""Shared fixtures: the real public corpora (converted once per session) and the invented
fixtures for credentialed formats."""

from pathlib import Path

import pytest

from helpers import ROOT, require_shared_data

FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="session")
def data():
    """``data("physionet-deid", "id.text")``: a path in the public corpora mirror (skipped if
    absent, failed under CI=true: see ``helpers.require_shared_data``)."""
    return require_shared_data


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def physionet_docs():
    from spacy_clintiny.converters import ConversionReport, read_physionet

    report = ConversionReport("physionet")
    folder = require_shared_data("physionet-deid")
    docs = list(read_physionet(folder / "id.text", folder / "id-phi.phrase", report=report))
    return docs, report


@pytest.fixture(scope="session")
def ade_docs():
    from spacy_clintiny.converters import ConversionReport, read_ade

    report = ConversionReport("ade")
    docs = list(read_ade(require_shared_data("ade-corpus-v2"), report=report))
    return docs, report
