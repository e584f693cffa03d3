"""Run PyRuSH's rule matcher only where a rule can match, with identical results.

PyFastNER's ``FastCNER.process`` (the engine under PyRuSH) walks its rule trie from EVERY
character of a note, in pure Python; on clinical notes that walk cost more than the
transformer. Fewer than 5% of the start positions ever reach a rule's end. ``RuleIndex``
compiles the same trie into regular expressions that over-approximate what the walk can
match (every path to a rule end, each step a character class that contains what the walk's
step accepts). ``PrefilteredFastCNER.process`` finds the start positions they allow with
``re`` (C speed) and runs the unchanged ``FastCNER.processRules`` from those positions
only, in the same order, into the top-level branches of the trie that can match there, in
their order. A walk (or branch) the expressions reject reaches no rule end, and such a walk
has no effect (``process`` only records matches), so the matches and their overlap
resolution, and therefore RuSH's sentences, are exactly PyRuSH's.

The over-approximation follows PyFastNER 1.0.10's walk (``FastCNER.processRules``,
``WildCardFunctions``, ``ReplicationFunctionsLambda``):

* ``\\s \\n \\p \\a \\u \\w`` are the exact classes; ``\\d \\C \\c`` add every non-ASCII
  character (``str.isdigit`` and friends accept some);
* ``\\b`` / ``\\e`` are the start / end of the text; ``(`` and ``)`` consume nothing;
* ``X+`` continues after one ``X``, after the greedy run of up to ``max_repeat`` more, or
  after a literal ``+`` (the walk also matches the key ``+`` as a character);
* a backslash in the text walks a wildcard key literally: a walk that meets a ``\\`` key
  and a backslash in the text is kept;
* wildcards PyFastNER does not know (``\\.``) match nothing; ``\\+`` keeps the position.
"""

import re
import string
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from PyFastNER import ReplicationFunctionsLambda

_END = "<END>"  # FastCNER.END
# (class, exact) per wildcard: an exact class is what the step (and PyFastNER's replication
# function of the same letter) accepts, so a "+" after it may repeat possessively; the
# others are supersets. Negated ASCII classes keep re's compile fast (a range up to
# U+10FFFF is expanded character by character).
_WILDCARDS = {
    "s": ("[ \t\xa0]", True),
    "n": ("[\n\r]", True),
    "d": ("[^\x00-/:-\x7f]", False),
    "C": ("[^\x00-@\\[-\x7f]", False),
    "c": ("[^\x00-`{-\x7f]", False),
    "p": ("[" + re.escape(string.punctuation) + "]", True),
    "a": (r"\S", True),
    "u": ("[^\x00-~\xa0]", True),
    "w": ("[^\x00-\x08\x0e-\x1b!-~]", True),
}
# wildcards PyFastNER matches but cannot repeat
_NO_REPEAT = {"(": r"\(", ")": r"\)", "\\": r"\\"}
_ZERO_WIDTH = {"b": r"\A", "e": r"\Z"}

Branch = Tuple[str, ...]  # a top-level key of the trie: (literal,) or ("\\", wildcard)


class PrefilteredFastCNER:
    """A ``FastCNER`` whose ``process`` starts the rule walk only where a rule can match.
    Everything else is delegated to the wrapped matcher, so RuSH uses it in place of its
    own (``rush.fastner = PrefilteredFastCNER(rush.fastner)``).

    fastner (FastCNER): The matcher, with its rule trie built.
    """

    def __init__(self, fastner: Any) -> None:
        self._fastner = fastner
        self._indexes: Dict[int, RuleIndex] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fastner, name)

    @property
    def index(self) -> "RuleIndex":
        """RETURNS (RuleIndex): The index for PyFastNER's current replication limit (a
        module global there, so it is read at every call)."""
        max_repeat = ReplicationFunctionsLambda.gmax_repeat
        if max_repeat not in self._indexes:
            self._indexes[max_repeat] = RuleIndex(self._fastner.rule_map, max_repeat=max_repeat)
        return self._indexes[max_repeat]

    def process(self, text: str, offset: int = 0, matches: Optional[Dict[str, List[Any]]] = None) -> Dict:
        """``FastCNER.process``, the walk started only where the ``RuleIndex`` allows.

        text (str): The text.
        offset (int): Added to every match offset.
        matches (Optional[Dict[str, List[Span]]]): Matches by rule name, filled in place.
        RETURNS (Dict[str, List[Span]]): ``matches``, pseudo matches removed.
        """
        fastner, index = self._fastner, self.index
        if matches is None:
            matches = {}
        fastner.offset = offset
        fastner.overlap_checkers.clear()
        process_rules = fastner.processRules
        for i in index.start_positions(text):
            process_rules(text, index.root_at(text, i), i, 0, i, matches, text[i - 1] if i > 0 else " ", False, " ")
        fastner.removePseudo(matches)
        return matches


class RuleIndex:
    """Where a FastCNER rule walk can reach a rule end.

    rule_map (Dict[str, Any]): ``FastCNER.rule_map`` (the rule trie).
    max_repeat (int): The walk's replication limit (``+`` repeats at most this often).
    """

    def __init__(self, rule_map: Dict[str, Any], *, max_repeat: int = 50) -> None:
        self.rule_map = rule_map
        self.max_repeat = max_repeat
        # the walk starts with pre_key " " (a "+" at the root would repeat spaces)
        self.pattern = re.compile("(?=" + _node_regex(rule_map, (" ", True), max_repeat) + ")")
        # top-level branches with their regexes; a root that ends a rule or repeats is
        # always walked whole
        self._branches: Optional[List[Tuple[Branch, "re.Pattern[str]"]]] = None
        if _END not in rule_map and "+" not in rule_map:
            self._branches = list(_root_branches(rule_map, max_repeat))
        self._roots: Dict[Tuple[Branch, ...], Dict[str, Any]] = {}

    def start_positions(self, text: str) -> List[int]:
        """text (str): The text. RETURNS (List[int]): Positions where a rule walk may reach
        a rule end (a superset of those where it does)."""
        return [m.start() for m in self.pattern.finditer(text)]

    def root_at(self, text: str, i: int) -> Dict[str, Any]:
        """The trie restricted to the top-level branches that can match at ``i``, keys in
        their original order: the walk visits what it visits in the whole trie, in the same
        order, minus branches that reach no rule end.

        text (str): The text.
        i (int): A start position.
        RETURNS (Dict[str, Any]): A root for ``FastCNER.processRules``.
        """
        # a text backslash walks the "\\" key literally, into the whole wildcard node
        if self._branches is None or text[i] == "\\":
            return self.rule_map
        passing = tuple(branch for branch, pattern in self._branches if pattern.match(text, i))
        root = self._roots.get(passing)
        if root is None:
            root = self._roots[passing] = _restrict(self.rule_map, set(passing))
        return root


def _root_branches(rule_map: Dict[str, Any], max_repeat: int) -> Iterable[Tuple[Branch, "re.Pattern[str]"]]:
    """Each top-level branch of the trie with the regex of its paths to a rule end."""
    for key, child in rule_map.items():
        if key == "\\":
            for wildcard, grandchild in child.items():
                alternative = _wildcard_regex(wildcard, grandchild, max_repeat)
                if alternative is not None:
                    yield (key, wildcard), re.compile(alternative)
        elif key in "()":
            yield (key,), re.compile(_node_regex(child, (re.escape(key), True), max_repeat))
        else:
            literal = re.escape(key)
            yield (key,), re.compile(literal + _node_regex(child, (literal, True), max_repeat))


def _restrict(rule_map: Dict[str, Any], passing: Set[Branch]) -> Dict[str, Any]:
    """A shallow copy of the root with only the ``passing`` top-level branches."""
    root: Dict[str, Any] = {}
    for key, child in rule_map.items():
        if key == "\\":
            wildcards = {w: c for w, c in child.items() if (key, w) in passing}
            if wildcards:
                root[key] = wildcards
        elif (key,) in passing:
            root[key] = child
    return root


def _node_regex(node: Dict[str, Any], repeat: Optional[Tuple[str, bool]], max_repeat: int) -> str:
    """The regex of every path from ``node`` to a rule end.

    repeat (Optional[Tuple[str, bool]]): What a ``+`` key in ``node`` repeats: the class of
        the step that reached ``node`` and whether it is exact; None if PyFastNER has no
        replication for that step.
    """
    if _END in node:
        return ""  # a rule ends here: the position is a candidate
    alternatives = []
    for key, child in node.items():
        if key == "\\":
            alternatives.append(r"\\")  # a text backslash walks the wildcard keys literally
            for wildcard, grandchild in child.items():
                alternative = _wildcard_regex(wildcard, grandchild, max_repeat)
                if alternative is not None:
                    alternatives.append(alternative)
        elif key in "()":
            alternatives.append(_node_regex(child, (re.escape(key), True), max_repeat))
        elif key == "+":
            # after one step: nothing more, the greedy run of up to max_repeat more (exact
            # classes: possessive, as the walk never gives back), or a literal "+"
            more = [r"\+"]
            if repeat is not None:
                more.insert(0, f"{repeat[0]}{{1,{max_repeat}}}" + ("+" if repeat[1] else ""))
            alternatives.append(f"(?:{'|'.join(more)})?" + _node_regex(child, (r"\+", True), max_repeat))
        else:
            literal = re.escape(key)
            alternatives.append(literal + _node_regex(child, (literal, True), max_repeat))
    if "" in alternatives:
        return ""
    if not alternatives:
        return "(?!)"
    return "(?:" + "|".join(alternatives) + ")"


def _wildcard_regex(wildcard: str, child: Dict[str, Any], max_repeat: int) -> Optional[str]:
    """The regex of the paths through the wildcard step ``\\<wildcard>``, or None if the
    step never matches (PyFastNER only logs wildcards it does not know)."""
    if wildcard in _ZERO_WIDTH:
        return _ZERO_WIDTH[wildcard] + _node_regex(child, None, max_repeat)
    if wildcard in _WILDCARDS:
        cls = _WILDCARDS[wildcard]
        return cls[0] + _node_regex(child, cls, max_repeat)
    if wildcard in _NO_REPEAT:
        return _NO_REPEAT[wildcard] + _node_regex(child, None, max_repeat)
    if wildcard == "+":
        return ""  # PyFastNER jumps to a sibling branch: keep the position
    return None
