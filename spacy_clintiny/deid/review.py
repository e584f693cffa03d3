"""A displaCy page for reviewing de-identification: sampled notes with their PHI marked.

The page shows the ORIGINAL note text: it contains PHI and must be handled like the input.
"""

import html
import warnings
from typing import Iterable

from .types import DeidResult

REVIEW_KEY = "phi"
BANNER = (
    "This page shows ORIGINAL note text with the detected PHI marked: it contains protected "
    "health information. Store and share it like the input notes, and delete it after review."
)


def render_review(results: Iterable[DeidResult]) -> str:
    """Render notes and their PHI mentions as one HTML page (displaCy "span" style).

    results (Iterable[DeidResult]): De-identified notes (their input text and mentions).
    RETURNS (str): The page; each note titled by its id, each span labelled
        "CATEGORY source" (e.g. "DATE rule:date").
    """
    import spacy
    from spacy import displacy

    nlp = spacy.blank("en")
    docs = []
    for result in results:
        doc = nlp.make_doc(result.record.text)
        spans = []
        for m in result.mentions:
            span = doc.char_span(m.start, m.end, label=f"{m.label} {m.source}", alignment_mode="expand")
            if span is not None and len(span) and (not spans or span.start >= spans[-1].end):
                spans.append(span)
        doc.spans[REVIEW_KEY] = spans
        doc.user_data["title"] = f"{result.record.note_id} ({len(spans)} PHI spans)"
        docs.append(doc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # W117: a note without PHI is worth showing too
        body = displacy.render(docs, style="span", page=False, options={"spans_key": REVIEW_KEY}) if docs else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<title>clintiny deid review (contains PHI)</title>\n</head>\n<body style="font-family: sans-serif">\n'
        f'<p style="background: #fdd; padding: 1em; font-weight: bold">{html.escape(BANNER)}</p>\n'
        f"{body}\n</body>\n</html>\n"
    )
