"""The adapters through which bench/deid_baselines.py scores Philter (the figures in
docs/deid.md rest on them; Philter itself is not needed here)."""

import pytest

from helpers import bench_script


@pytest.fixture(scope="module")
def baselines():
    return bench_script("deid_baselines")


def test_starred_runs_become_character_ranges(baselines):
    text = "Seen 12/03 by Dr. O'Neil, BP 120/80 ok"
    shown = "Seen **/** by Dr. *'****, BP 120/80 **"
    # the slash and the apostrophe inside a starred word join its runs; the comma does not follow
    assert baselines._starred(text, shown) == [(5, 10), (18, 24), (36, 38)]
    assert [text[s:e] for s, e in baselines._starred(text, shown)] == ["12/03", "O'Neil", "ok"]


def test_starred_ignores_stars_of_the_input_and_keeps_words_apart(baselines):
    assert baselines._starred("a ** b", "a ** *") == [(5, 6)]
    assert baselines._starred("John Smith", "**** *****") == [(0, 4), (5, 10)]
    assert baselines._starred("abc", "abc") == []
    assert baselines._starred("abc", "***") == [(0, 3)]


def test_precompile_moves_mid_pattern_flags_to_the_whole_pattern(baselines, tmp_path):
    path = tmp_path / "pattern.txt"
    path.write_text(r"\b(?<=(?i)at\s)[A-Z][a-z]+|(?i)(dr\.?)\s\w+" + "\n")
    pattern = baselines._precompile(None, str(path))
    # as Python <= 3.10 compiled it: ignore case everywhere, not only after the flag
    assert pattern.flags & 2  # re.IGNORECASE
    assert [m.group(0) for m in pattern.finditer("AT Boston; seen by DR SMITH")] == ["Boston", "DR SMITH"]
