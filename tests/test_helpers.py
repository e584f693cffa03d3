"""The shared-data guard: a missing corpus mirror skips locally but FAILS under CI=true."""

import pytest

import helpers


def test_missing_mirror_skips_locally_and_fails_under_ci(tmp_path, monkeypatch):
    monkeypatch.setattr(helpers, "SHARED_DATA", tmp_path / "no-mirror")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-mirror"):
        helpers.require_shared_data("physionet-deid", "id.text")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no-mirror.*id.text"):
        helpers.require_shared_data("physionet-deid", "id.text")


def test_present_file_is_returned_under_ci(tmp_path, monkeypatch):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("x")
    monkeypatch.setattr(helpers, "SHARED_DATA", tmp_path)
    monkeypatch.setenv("CI", "true")
    assert helpers.require_shared_data("corpus", "a.txt") == tmp_path / "corpus" / "a.txt"
    assert helpers.require_shared_data() == tmp_path
