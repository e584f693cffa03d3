"""fileio: the one home for atomic writes. A reader sees the old file or the complete new one,
never a partial one, and a failed write leaves no temporary sibling behind."""

import json
import os

import pytest

from spacy_clintiny.fileio import (
    TMP_SUFFIX,
    atomic_open,
    atomic_path,
    temporary_target,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)


def _siblings(path):
    return sorted(p.name for p in path.parent.iterdir())


def test_file_appears_only_complete(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old", encoding="utf8")
    with atomic_open(path) as handle:
        handle.write("first half, ")
        handle.flush()
        # mid-write: the output still holds the old content; the new text is in a hidden sibling
        assert path.read_text(encoding="utf8") == "old"
        (tmp,) = [p for p in tmp_path.iterdir() if p != path]
        assert tmp.name.startswith(".out.txt.") and tmp.name.endswith(TMP_SUFFIX)
        assert temporary_target(tmp) == path  # how a resumed run finds what a killed write left
        assert tmp.read_text(encoding="utf8") == "first half, "
        handle.write("second half")
    assert path.read_text(encoding="utf8") == "first half, second half"
    assert _siblings(path) == ["out.txt"]


def test_exception_inside_atomic_open_keeps_old_content_and_no_temp_file(tmp_path):
    path = tmp_path / "out.json"
    path.write_text('{"old": true}\n', encoding="utf8")
    with pytest.raises(RuntimeError, match="killed mid-write"):
        with atomic_open(path, "w") as handle:
            handle.write('{"new": ')
            raise RuntimeError("killed mid-write")
    assert path.read_text(encoding="utf8") == '{"old": true}\n'
    assert _siblings(path) == ["out.json"]
    # a failed first write leaves nothing at all
    fresh = tmp_path / "sub" / "fresh.bin"
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(fresh, "wb") as handle:
            handle.write(b"\x00\x01")
            raise KeyboardInterrupt
    assert not fresh.exists() and os.listdir(fresh.parent) == []


def test_bytes_text_and_json_round_trip(tmp_path):
    data = bytes(range(256)) * 3
    write_bytes_atomic(tmp_path / "a" / "b.bin", data)  # the folder is created
    assert (tmp_path / "a" / "b.bin").read_bytes() == data
    text = "caf\u00e9\r\nline two\n"
    write_text_atomic(tmp_path / "t.txt", text)
    assert (tmp_path / "t.txt").read_bytes() == text.encode("utf8")  # newlines written as given
    obj = {"labels": ["NAME", "DATE"], "n": 3, "f": 0.25, "nested": {"caf\u00e9": None}}
    write_json_atomic(tmp_path / "o.json", obj)
    raw = (tmp_path / "o.json").read_text(encoding="utf8")
    assert json.loads(raw) == obj
    assert raw.endswith("}\n") and "caf\u00e9" in raw
    write_json_atomic(tmp_path / "o.json", [1])  # replaces the existing file
    assert json.loads((tmp_path / "o.json").read_text(encoding="utf8")) == [1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "o.json", "t.txt"]


def test_only_whole_file_modes(tmp_path):
    with pytest.raises(ValueError, match="'a'"):
        with atomic_open(tmp_path / "x.txt", "a"):
            pass
    assert not (tmp_path / "x.txt").exists()


def test_atomic_path_for_writers_that_take_a_path(tmp_path):
    path = tmp_path / "plot.png"
    path.write_bytes(b"old")
    with atomic_path(path, suffix=".png") as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png" and tmp != path
        tmp.write_bytes(b"new")  # as fig.savefig(tmp) / torch.save(obj, tmp) would
        assert path.read_bytes() == b"old"
    assert path.read_bytes() == b"new"
    assert (os.stat(path).st_mode & 0o777) == 0o666 & ~_current_umask()  # not mkstemp's 0600
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer failed")
    assert path.read_bytes() == b"new"
    assert _siblings(path) == ["plot.png"]


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_check_outputs_refuses_what_would_overwrite_an_input(tmp_path):
    from spacy_clintiny.fileio import check_outputs

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "dev.spacy").write_bytes(b"x")
    model = tmp_path / "model"
    model.mkdir()
    inputs = {"MODEL": model, "CORPUS": corpus, "hub id": "org/name-that-is-no-path"}
    check_outputs({"OUTPUT": tmp_path / "out", "--report": tmp_path / "r.json"}, inputs)  # fine
    for output in (corpus / "dev.spacy", corpus / "new.json", model, model / "meta.json"):
        with pytest.raises(ValueError, match="E747"):
            check_outputs({"OUTPUT": output}, inputs)
    with pytest.raises(ValueError, match="E747"):  # a folder replaced whole while it holds an input
        check_outputs({"OUTPUT": tmp_path}, inputs, replaced=["OUTPUT"])
    check_outputs({"OUTPUT": tmp_path}, {"CORPUS": corpus / "dev.spacy"})  # written into, not replaced: fine
    with pytest.raises(ValueError, match="E914"):
        check_outputs({"OUTPUT": tmp_path / "a.spacy", "--dev-output": tmp_path / "a.spacy"}, {})
    assert (corpus / "dev.spacy").read_bytes() == b"x"


def test_temporary_target_ignores_files_not_named_like_a_temporary(tmp_path):
    assert temporary_target(tmp_path / ".a.b.txt.x1y2.tmp") == tmp_path / "a.b.txt"
    for name in ("a.txt.tmp", ".a.txt", ".tmp", "..tmp"):
        assert temporary_target(tmp_path / name) is None, name
