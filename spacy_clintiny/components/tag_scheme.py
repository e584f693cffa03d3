"""BILUO / BIO tag schemes for ``clintiny_ner``: tag inventories, gold tags from spans,
constrained (Viterbi) decoding and tags back to spans.

Decoding only ever produces valid sequences: a transition mask forbids e.g. ``O -> I-X``,
``B-X -> I-Y`` or ending inside an entity, and the Viterbi search finds the most probable
sequence among the valid ones (sum of token log-probabilities).
"""

from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy

SCHEMES = ("BILUO", "BIO")
MISSING = -1  # gold tag index of tokens that carry no supervision


class TagScheme:
    """The tag inventory for a label set under BILUO or BIO.

    labels (Iterable[str]): Entity labels, e.g. ``["DATE", "NAME"]``.
    scheme (str): ``"BILUO"`` or ``"BIO"``.
    """

    def __init__(self, labels: Iterable[str], scheme: str) -> None:
        self.labels = list(labels)
        self.scheme = scheme
        prefixes = "BILU" if scheme == "BILUO" else "BI"
        self.tags: List[str] = ["O"] + [f"{p}-{label}" for label in self.labels for p in prefixes]
        self.index: Dict[str, int] = {tag: i for i, tag in enumerate(self.tags)}
        self.allowed, self.start_ok, self.end_ok = self._constraints()
        # additive masks for the Viterbi search: 0 where allowed, -inf where forbidden
        self._trans = numpy.where(self.allowed, 0.0, -numpy.inf)
        self._start = numpy.where(self.start_ok, 0.0, -numpy.inf)
        self._end = numpy.where(self.end_ok, 0.0, -numpy.inf)
        edge_prefixes = ("B", "L", "U") if scheme == "BILUO" else ("B",)
        self._edge_tags = numpy.asarray([i for i, t in enumerate(self.tags) if t[0] in edge_prefixes], dtype="int64")

    def __len__(self) -> int:
        return len(self.tags)

    def tags_of(self, labels: Iterable[str]) -> numpy.ndarray:
        """Indices of every tag (B/I/L/U) of ``labels``.

        labels (Iterable[str]): Entity labels of this scheme.
        RETURNS (numpy.ndarray): int64 tag indices, sorted.
        """
        wanted = set(labels)
        return numpy.asarray([i for i, t in enumerate(self.tags) if t != "O" and t[2:] in wanted], dtype="int64")

    def _constraints(self) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
        n = len(self.tags)
        allowed = numpy.zeros((n, n), dtype=bool)  # (prev, next)
        start_ok = numpy.zeros((n,), dtype=bool)
        end_ok = numpy.zeros((n,), dtype=bool)
        split = [tag.split("-", 1) if tag != "O" else ("O", "") for tag in self.tags]
        for j, (p_next, l_next) in enumerate(split):
            start_ok[j] = p_next in ("O", "B", "U")
            end_ok[j] = p_next in ("O", "L", "U") if self.scheme == "BILUO" else True
            for i, (p_prev, l_prev) in enumerate(split):
                if self.scheme == "BILUO":
                    inside = p_prev in ("B", "I")
                    ok = (p_next in ("I", "L") and l_next == l_prev) if inside else p_next in ("O", "B", "U")
                else:
                    ok = p_next != "I" or (p_prev in ("B", "I") and l_prev == l_next)
                allowed[i, j] = ok
        return allowed, start_ok, end_ok

    def gold_tags(self, n_tokens: int, spans: Sequence[Tuple[int, int, str]]) -> numpy.ndarray:
        """Tag indices for non-overlapping ``(start, end, label)`` token spans.

        n_tokens (int): Length of the doc.
        spans (Sequence[Tuple[int, int, str]]): Token offsets (end exclusive) and labels;
            labels outside the scheme are tagged O.
        RETURNS (numpy.ndarray): ``(n_tokens,)`` int32 tag indices.
        """
        tags = numpy.zeros((n_tokens,), dtype="int32")
        for start, end, label in spans:
            if label not in self.labels or end <= start:
                continue
            if self.scheme == "BILUO" and end - start == 1:
                tags[start] = self.index[f"U-{label}"]
                continue
            tags[start] = self.index[f"B-{label}"]
            tags[start + 1 : end] = self.index[f"I-{label}"]
            if self.scheme == "BILUO":
                tags[end - 1] = self.index[f"L-{label}"]
        return tags

    def decode(self, probs: numpy.ndarray, *, inner_only: Optional[numpy.ndarray] = None) -> numpy.ndarray:
        """Most probable valid tag sequence (Viterbi with a transition mask).

        probs (numpy.ndarray): ``(n_tokens, n_tags)`` tag probabilities.
        inner_only (Optional[numpy.ndarray]): ``(n_tokens,)`` bool, tokens that may not
            begin or end an entity (whitespace); they can only be O or inside one.
        RETURNS (numpy.ndarray): ``(n_tokens,)`` int tag indices forming a valid sequence.
        """
        n = probs.shape[0]
        if n == 0:
            return numpy.zeros((0,), dtype="int32")
        logp = numpy.log(numpy.maximum(probs.astype("float64"), 1e-30))  # (n, T)
        if inner_only is not None and inner_only.any():
            logp[numpy.ix_(numpy.nonzero(inner_only)[0], self._edge_tags)] = -numpy.inf
        greedy = logp.argmax(axis=1)
        if (
            self.start_ok[greedy[0]]
            and self.end_ok[greedy[-1]]
            and self.allowed[greedy[:-1], greedy[1:]].all()
            and numpy.isfinite(logp[numpy.arange(n), greedy]).all()
        ):
            # The transitions only forbid (0 or -inf): a valid best-per-token sequence is the
            # best sequence, as Viterbi would find it (most notes; no loop over tokens).
            return greedy.astype("int32")
        return self.viterbi(logp)

    def viterbi(self, logp: numpy.ndarray) -> numpy.ndarray:
        """Viterbi over ``(n_tokens, n_tags)`` log-probabilities (n_tokens >= 1) with the
        transition mask: the best valid tag sequence."""
        n = logp.shape[0]
        score = logp[0] + self._start  # (T,)
        back = numpy.zeros((n, len(self.tags)), dtype="int32")
        cols = numpy.arange(len(self.tags))
        for t in range(1, n):
            cand = score[:, None] + self._trans  # (T_prev, T_next)
            best_prev = cand.argmax(axis=0)
            back[t] = best_prev
            score = cand[best_prev, cols] + logp[t]
        score = score + self._end
        path = numpy.zeros((n,), dtype="int32")
        path[-1] = int(score.argmax())
        for t in range(n - 1, 0, -1):
            path[t - 1] = back[t, path[t]]
        return path

    def to_spans(self, tags: Sequence[int]) -> List[Tuple[int, int, str]]:
        """Token spans of a valid tag sequence.

        tags (Sequence[int]): Tag indices, as returned by ``decode``.
        RETURNS (List[Tuple[int, int, str]]): ``(start, end, label)``, end exclusive.
        """
        spans = []
        start, label = None, None
        for i, tag_id in enumerate(tags):
            tag = self.tags[int(tag_id)]
            prefix, _, tag_label = tag.partition("-")
            if prefix in ("O", "B", "U") and start is not None:
                spans.append((start, i, label))
                start, label = None, None
            if prefix == "U":
                spans.append((i, i + 1, tag_label))
            elif prefix == "B":
                start, label = i, tag_label
            elif prefix == "L" and start is not None:
                spans.append((start, i + 1, label))
                start, label = None, None
        if start is not None:
            spans.append((start, len(tags), label))
        return spans
