"""CoNLL-style BIO/IOB TSV (NCBI disease ``conll/``, BC5CDR ``iob/``): one ``token<TAB>tag``
per line (the tag is the LAST column, the token the first), blank lines between sentences,
optional ``-DOCSTART-`` lines between documents.

Tokens are joined with single spaces and sentences with newlines, so the doc text is a
reconstruction (CoNLL keeps no spacing). Entities go through a ``LabelMap`` (default
"biomedical": Disease -> PROBLEM, Chemical -> TREATMENT). Without ``-DOCSTART-``, every
``n_sents`` consecutive sentences make a doc; such files carry no document ids, so split them
by file (e.g. train.tsv / devel.tsv) rather than with ``--split-dev``. An ``I-`` tag that does
not continue an entity of the same type starts one (IOB1), reported as "adjusted".
"""

from pathlib import Path
from typing import Iterator, List, Optional, Tuple, Union

from .labels import LabelMap, get_label_map
from .report import ConversionReport
from .source import Location, SourceDoc, SourceSpan
from .textio import read_lines

CORPUS = "conll"
Sentence = List[Tuple[int, str, str]]  # (line, token, tag)


def iter_conll(
    path: Union[str, Path],
    *,
    n_sents: int = 10,
    label_map: Union[None, str, LabelMap] = None,
    report: Optional[ConversionReport] = None,
) -> Iterator[SourceDoc]:
    """Read a BIO TSV file.

    path (Union[str, Path]): The TSV file.
    n_sents (int): Sentences per doc when the file has no ``-DOCSTART-`` lines.
    label_map: Preset name, JSON path or LabelMap (default "biomedical").
    report (Optional[ConversionReport]): Receives malformed lines.
    YIELDS (SourceDoc): Docs of up to ``n_sents`` sentences (or one per -DOCSTART- document).
    """
    report = report if report is not None else ConversionReport(CORPUS)
    lmap = get_label_map(label_map, default="biomedical")
    path = Path(path)
    docs: List[List[Sentence]] = [[]]
    sentence: Sentence = []
    has_docstart = False
    for i, line in enumerate(read_lines(path, report), start=1):
        fields = line.split("\t") if "\t" in line else line.split()
        if not line.strip():
            if sentence:
                docs[-1].append(sentence)
                sentence = []
            continue
        if fields[0] == "-DOCSTART-":
            has_docstart = True
            if sentence:
                docs[-1].append(sentence)
                sentence = []
            if docs[-1]:
                docs.append([])
            continue
        if len(fields) < 2 or not fields[0]:
            report.add_event("skipped", "malformed_line", Location(str(path), i), detail=f"{len(fields)} fields")
            continue
        tag = fields[-1]
        if tag != "O" and not (len(tag) > 2 and tag[:2] in ("B-", "I-", "S-", "E-")):
            report.add_event("adjusted", "unknown_tag_as_O", Location(str(path), i))
            tag = "O"
        sentence.append((i, fields[0], tag))
    if sentence:
        docs[-1].append(sentence)
    if not has_docstart:
        # no document ids: a --split-dev of these chunks splits documents across train and dev
        report.add_event("info", "no_docstart_chunked", Location(str(path)), detail=f"{n_sents} sentences a doc")
        flat = [s for doc in docs for s in doc]
        step = max(1, n_sents)
        docs = [flat[i : i + step] for i in range(0, len(flat), step)]
    for n, sentences in enumerate(d for d in docs if d):
        yield _make_doc(sentences, n, str(path), lmap, report)


def _make_doc(sentences: List[Sentence], n: int, path: str, lmap: LabelMap, report: ConversionReport) -> SourceDoc:
    pieces: List[str] = []
    spans: List[SourceSpan] = []
    groups = {target[0] for target in lmap.entities.values()}
    offset = 0
    for s_i, sentence in enumerate(sentences):
        if s_i:
            pieces.append("\n")
            offset += 1
        current: Optional[Tuple[str, int, int, int]] = None  # type, start, end, line
        for t_i, (line, token, tag) in enumerate(sentence):
            if t_i:
                pieces.append(" ")
                offset += 1
            start, end = offset, offset + len(token)
            pieces.append(token)
            offset = end
            prefix, etype = (tag[:1], tag[2:]) if tag != "O" else ("O", "")
            if current is not None and (prefix in ("O", "B", "S") or etype != current[0]):
                _close(current, spans, groups, lmap, path, report)
                current = None
            if prefix in ("B", "S") or (prefix in ("I", "E") and current is None):
                if prefix in ("I", "E"):
                    report.add_event("adjusted", "entity_started_by_I_tag", Location(path, line))
                current = (etype, start, end, line)
            elif prefix in ("I", "E") and current is not None:
                current = (current[0], current[1], end, current[3])
            if prefix in ("S", "E") and current is not None:
                _close(current, spans, groups, lmap, path, report)
                current = None
        if current is not None:
            _close(current, spans, groups, lmap, path, report)
    first_line = sentences[0][0][0]
    return SourceDoc(
        text="".join(pieces),
        doc_id=f"{Path(path).stem}-{n}",
        group_id=f"{Path(path).stem}-{n}",
        corpus=CORPUS,
        spans=spans,
        groups=groups,
        annotated_labels=lmap.labels_by_group(),
        where=Location(path, first_line),
    )


def _close(current, spans, groups, lmap: LabelMap, path: str, report: ConversionReport) -> None:
    etype, start, end, line = current
    target = lmap.entity(etype)
    if target is None:
        report.add_event("unplaceable", "unmapped_label", Location(path, line), detail=etype)
        return
    groups.add(target[0])
    spans.append(SourceSpan(start, end, target[0], target[1], kb_id=etype, where=Location(path, line)))
