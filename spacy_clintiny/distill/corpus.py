"""Text corpora for pre-training and distillation: read, dedupe, split, tokenize once, pack.

Inputs (by extension, or ``format`` to force one):

* ``.txt`` — plain text. ``text_split = "blank-line"`` (default): one document per block
  separated by blank lines; ``"line"``: one document per non-empty line; ``"file"``: the
  whole file is one document.
* ``.jsonl`` — one JSON object per line, the document text in ``text_field`` (MTSamples:
  ``transcription``). Lines whose field is empty or ``"<NA>"`` are skipped.
* ``.spacy`` — a spaCy DocBin (for example notes from ``clintiny synth``); ``doc.text``.
* a directory — every file with one of those extensions inside it, sorted.

Exact duplicate texts are dropped (MTSamples lists the same note under several
specialties). Documents, not sequences, are split into training and held-out parts with a
seeded permutation, so no held-out text is seen in training. Each part is tokenized without
special tokens, documents are joined with [SEP] and cut into ``[CLS] ... [SEP]`` sequences of
exactly ``seq_len`` tokens (the last one padded).

The result is cached under ``cache_dir`` keyed by the tokenizer, the files' contents and
the settings. The cache holds token ids, which spell the notes: keep it wherever the corpus
itself may live.
"""

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from ..errors import Errors
from ..fileio import atomic_path

CACHE_VERSION = 1
FORMATS = {".txt": "text", ".text": "text", ".jsonl": "jsonl", ".spacy": "docbin"}
TEXT_SPLITS = ("blank-line", "line", "file")
MISSING_VALUES = ("", "<NA>", "NA", "nan", "None")


@dataclass(frozen=True)
class CorpusSettings:
    """How files become packed sequences. Every field is part of the cache key."""

    format: str = "auto"
    text_field: str = "text"
    text_split: str = "blank-line"
    seq_len: int = 128
    heldout_fraction: float = 0.05
    dedupe: bool = True
    seed: int = 0


@dataclass
class PackedSequences:
    """Packed token sequences.

    input_ids (Tensor): (n, seq_len) int64 token ids.
    special (Tensor): (n, seq_len) bool, [CLS]/[SEP]/[PAD] positions.
    word_start (Tensor): (n, seq_len) bool, first piece of each word.
    attention_mask (Tensor): (n, seq_len) int64, 0 on padding.
    """

    input_ids: Tensor
    special: Tensor
    word_start: Tensor
    attention_mask: Tensor

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def n_tokens(self) -> int:
        return int(self.attention_mask.sum())

    def select(self, index: Tensor) -> "PackedSequences":
        return PackedSequences(
            self.input_ids[index], self.special[index], self.word_start[index], self.attention_mask[index]
        )


@dataclass
class Corpus:
    """Training and held-out sequences plus what they came from (counts only, no text)."""

    train: PackedSequences
    heldout: PackedSequences
    info: Dict[str, Any]


def corpus_settings(config: Dict[str, Any]) -> CorpusSettings:
    """The corpus settings of a resolved distill/pretrain config (its [corpus] and seed)."""
    c = config["corpus"]
    return CorpusSettings(
        format=c["format"],
        text_field=c["text_field"],
        text_split=c["text_split"],
        seq_len=int(c["seq_len"]),
        heldout_fraction=float(c["heldout_fraction"]),
        dedupe=bool(c["dedupe"]),
        seed=int(config["training"]["seed"]),
    )


def expand_paths(paths: Sequence[os.PathLike]) -> List[Path]:
    """Files named directly, plus the corpus files inside named directories."""
    files: List[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise ValueError(Errors.E523.format(path=path))
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in FORMATS and p.is_file()))
        else:
            files.append(path)
    return files


def _file_format(path: Path, fmt: str) -> str:
    if fmt != "auto":
        if fmt not in FORMATS.values():
            raise ValueError(Errors.E516.format(path=path, suffix=fmt))
        return fmt
    if path.suffix not in FORMATS:
        raise ValueError(Errors.E516.format(path=path, suffix=path.suffix))
    return FORMATS[path.suffix]


def _decode(data: bytes, path: Path, *, line: Optional[int] = None) -> str:
    try:
        return data.decode("utf8")
    except UnicodeDecodeError as err:
        where = f", line {line}," if line is not None else ""
        raise ValueError(Errors.E528.format(path=path, where=where, offset=err.start)) from None


def iter_texts(files: Iterable[Path], settings: CorpusSettings) -> Iterator[str]:
    """Yield document texts from corpus files (see the module docstring)."""
    if settings.text_split not in TEXT_SPLITS:
        raise ValueError(
            Errors.E521.format(
                name="corpus.text_split", value=settings.text_split, hint=f"use one of {', '.join(TEXT_SPLITS)}"
            )
        )
    for path in files:
        fmt = _file_format(path, settings.format)
        if fmt == "text":
            # universal newlines, as text-mode reading would give
            content = _decode(path.read_bytes(), path).replace("\r\n", "\n").replace("\r", "\n")
            if settings.text_split == "file":
                yield content
            elif settings.text_split == "line":
                yield from content.splitlines()
            else:
                yield from re.split(r"\n[ \t]*\n", content)
        elif fmt == "jsonl":
            with path.open("rb") as fileh:
                for line_no, raw in enumerate(fileh, start=1):
                    line = _decode(raw, path, line=line_no)
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as err:
                        raise ValueError(Errors.E525.format(path=path, line=line_no, err=err.msg)) from None
                    if not isinstance(record, dict) or settings.text_field not in record:
                        fields = sorted(record) if isinstance(record, dict) else type(record).__name__
                        raise ValueError(
                            Errors.E517.format(path=path, line=line_no, field=settings.text_field, fields=fields)
                        )
                    value = record[settings.text_field]
                    if isinstance(value, str):
                        yield value
        else:
            from spacy.tokens import DocBin
            from spacy.vocab import Vocab

            for doc in DocBin().from_disk(path).get_docs(Vocab()):
                yield doc.text


def read_documents(files: Sequence[Path], settings: CorpusSettings) -> Tuple[List[str], int]:
    """Non-empty document texts, exact duplicates dropped when ``settings.dedupe``.

    RETURNS (Tuple[List[str], int]): The texts and the number of duplicates dropped.
    """
    texts: List[str] = []
    seen = set()
    duplicates = 0
    for text in iter_texts(files, settings):
        text = text.strip()
        if text in MISSING_VALUES:
            continue
        if settings.dedupe:
            key = hashlib.sha1(text.encode("utf8")).digest()
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
        texts.append(text)
    return texts, duplicates


def split_documents(n_docs: int, *, heldout_fraction: float, seed: int) -> Tuple[List[int], List[int]]:
    """Seeded split of document indices into training and held-out lists (sorted)."""
    if not 0.0 <= heldout_fraction < 1.0:
        raise ValueError(
            Errors.E521.format(
                name="corpus.heldout_fraction", value=heldout_fraction, hint="use a fraction in [0, 1), e.g. 0.05"
            )
        )
    n_heldout = 0
    if heldout_fraction > 0 and n_docs >= 2:
        n_heldout = min(n_docs - 1, max(1, round(heldout_fraction * n_docs)))
    order = torch.randperm(n_docs, generator=torch.Generator().manual_seed(seed)).tolist()
    return sorted(order[n_heldout:]), sorted(order[:n_heldout])


def tokenize_documents(
    texts: Sequence[str], tokenizer: Any, *, batch_size: int = 256
) -> Iterator[Tuple[List[int], List[bool]]]:
    """Token ids (no special tokens) and word-start flags of each text."""
    if getattr(tokenizer, "is_fast", False):
        for begin in range(0, len(texts), batch_size):
            chunk = list(texts[begin : begin + batch_size])
            enc = tokenizer(
                chunk,
                add_special_tokens=False,
                truncation=False,
                padding=False,
                return_attention_mask=False,
                return_token_type_ids=False,
                verbose=False,
            )
            for i, ids in enumerate(enc["input_ids"]):
                words = enc.word_ids(i)
                starts = [w is None or j == 0 or w != words[j - 1] for j, w in enumerate(words)]
                yield ids, starts
    else:
        for text in texts:
            pieces = tokenizer.tokenize(text)
            yield tokenizer.convert_tokens_to_ids(pieces), [not p.startswith("##") for p in pieces]


def pack_sequences(
    docs: Iterable[Tuple[List[int], List[bool]]], *, seq_len: int, cls_id: int, sep_id: int, pad_id: int
) -> PackedSequences:
    """Join documents with [SEP] and cut them into ``[CLS] body [SEP]`` rows of ``seq_len``."""
    body = seq_len - 2
    if body < 1:
        raise ValueError(Errors.E521.format(name="corpus.seq_len", value=seq_len, hint="use at least 8"))
    ids: List[int] = []
    starts: List[bool] = []
    special: List[bool] = []
    for doc_ids, doc_starts in docs:
        if not doc_ids:
            continue
        ids.extend(doc_ids + [sep_id])
        starts.extend(list(doc_starts) + [True])
        special.extend([False] * len(doc_ids) + [True])
    n_rows = (len(ids) + body - 1) // body
    input_ids = torch.full((n_rows, seq_len), pad_id, dtype=torch.long)
    is_special = torch.ones((n_rows, seq_len), dtype=torch.bool)
    word_start = torch.ones((n_rows, seq_len), dtype=torch.bool)
    attention = torch.zeros((n_rows, seq_len), dtype=torch.long)
    for row in range(n_rows):
        piece = slice(row * body, min((row + 1) * body, len(ids)))
        n = piece.stop - piece.start
        input_ids[row, 0] = cls_id
        input_ids[row, 1 : n + 1] = torch.tensor(ids[piece])
        input_ids[row, n + 1] = sep_id
        is_special[row, 1 : n + 1] = torch.tensor(special[piece])
        word_start[row, 1 : n + 1] = torch.tensor(starts[piece])
        attention[row, : n + 2] = 1
    return PackedSequences(input_ids, is_special, word_start, attention)


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A hash of everything that decides how the tokenizer splits text."""
    digest = hashlib.sha256()
    if getattr(tokenizer, "is_fast", False):
        digest.update(tokenizer.backend_tokenizer.to_str().encode("utf8"))
    else:
        digest.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode("utf8"))
        digest.update(repr(getattr(tokenizer, "do_lower_case", None)).encode())
    digest.update(repr((tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id)).encode())
    return digest.hexdigest()


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fileh:
        for block in iter(lambda: fileh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(files: Sequence[Path], tokenizer: Any, settings: CorpusSettings) -> str:
    """Key of the tokenized corpus: tokenizer + file contents + settings + cache version."""
    payload = {
        "version": CACHE_VERSION,
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "files": [_file_hash(path) for path in files],
        "settings": asdict(settings),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf8")).hexdigest()[:32]


def default_cache_dir() -> Path:
    """``$CLINTINY_CACHE_DIR`` or ``~/.cache/spacy_clintiny``, plus ``corpus``."""
    root = os.environ.get("CLINTINY_CACHE_DIR") or Path.home() / ".cache" / "spacy_clintiny"
    return Path(root) / "corpus"


def build_corpus(files: Sequence[Path], tokenizer: Any, settings: CorpusSettings) -> Corpus:
    """Read, dedupe, split, tokenize and pack (no cache)."""
    texts, duplicates = read_documents(files, settings)
    train_ids, heldout_ids = split_documents(len(texts), heldout_fraction=settings.heldout_fraction, seed=settings.seed)
    ids = dict(cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id, pad_id=tokenizer.pad_token_id)
    parts = {}
    for name, index in (("train", train_ids), ("heldout", heldout_ids)):
        parts[name] = pack_sequences(
            tokenize_documents([texts[i] for i in index], tokenizer), seq_len=settings.seq_len, **ids
        )
    info = {
        "files": [str(p) for p in files],
        "documents": len(texts),
        "duplicates_dropped": duplicates,
        "train_documents": len(train_ids),
        "heldout_documents": len(heldout_ids),
        "train_sequences": len(parts["train"]),
        "heldout_sequences": len(parts["heldout"]),
        "train_tokens": parts["train"].n_tokens,
        "heldout_tokens": parts["heldout"].n_tokens,
        "settings": asdict(settings),
    }
    return Corpus(parts["train"], parts["heldout"], info)


def load_corpus(
    paths: Sequence[os.PathLike],
    tokenizer: Any,
    settings: CorpusSettings,
    *,
    cache_dir: Optional[os.PathLike] = None,
    use_cache: bool = True,
) -> Corpus:
    """Load the packed corpus from the cache, building and caching it if needed.

    paths (Sequence[PathLike]): Corpus files or directories.
    tokenizer: A Hugging Face tokenizer.
    settings (CorpusSettings): Reading, splitting and packing settings.
    cache_dir (Optional[PathLike]): Where to cache; default :func:`default_cache_dir`.
    RETURNS (Corpus): Training and held-out sequences.
    """
    files = expand_paths(paths)
    if not files:
        raise ValueError(
            Errors.E518.format(paths=[str(p) for p in paths], n_train=0, n_heldout=0, seq_len=settings.seq_len)
        )
    cache_file = None
    if use_cache:
        cache_root = Path(cache_dir) if cache_dir else default_cache_dir()
        cache_file = cache_root / f"{cache_key(files, tokenizer, settings)}.pt"
        if cache_file.exists():
            data = torch.load(cache_file, weights_only=False)
            corpus = Corpus(PackedSequences(**data["train"]), PackedSequences(**data["heldout"]), data["info"])
            corpus.info["cache"] = str(cache_file)
            return corpus
    corpus = build_corpus(files, tokenizer, settings)
    if len(corpus.train) == 0 or (settings.heldout_fraction > 0 and len(corpus.heldout) == 0):
        raise ValueError(
            Errors.E518.format(
                paths=[str(p) for p in files],
                n_train=len(corpus.train),
                n_heldout=len(corpus.heldout),
                seq_len=settings.seq_len,
            )
        )
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        data = {"train": asdict(corpus.train), "heldout": asdict(corpus.heldout), "info": corpus.info}
        with atomic_path(cache_file) as tmp:
            torch.save(data, tmp)
        corpus.info["cache"] = str(cache_file)
    return corpus


def global_batch_indices(n_sequences: int, *, batch_size: int, step: int, seed: int) -> Tensor:
    """Sequence indices of the global batch of ``step``: epochs are seeded permutations
    walked in order, so the data position is a function of the step alone.

    RETURNS (Tensor): (batch_size,) int64 indices.
    """
    first = step * batch_size
    index = torch.empty(batch_size, dtype=torch.long)
    epoch, perm = -1, None
    for i in range(batch_size):
        sample_epoch, within = divmod(first + i, n_sequences)
        if sample_epoch != epoch:
            epoch = sample_epoch
            perm = torch.randperm(n_sequences, generator=torch.Generator().manual_seed(seed * 7919 + epoch))
        index[i] = perm[within]
    return index
