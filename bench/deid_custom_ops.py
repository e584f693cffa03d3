"""An example replacement function for ``clintiny deid --mode custom`` (and the one the custom
mode's figures in docs/deid.md were measured with):

    clintiny deid-eval physionet ../shared/data/physionet-deid --model build/en_clintiny_sm \
        --mode custom --custom bench/deid_custom_ops.py:numbered

Each distinct original of a patient becomes ``<NAME-1>``, ``<NAME-2>``, ``<DATE-1>``...: numbered
per patient and category in the order first seen, case and spacing not counted, so a reader can
tell that two mentions are the same person without learning who. The numbers are kept in this
process's memory: consistent within one run, not across runs (use ``--mode hash`` for that).
"""

from typing import Dict, Tuple

_SEEN: Dict[Tuple[str, str], Dict[str, int]] = {}


def numbered(text: str, *, label: str, patient_id: str, **_: object) -> str:
    """``<LABEL-n>``: the n-th distinct ``label`` original of ``patient_id``."""
    seen = _SEEN.setdefault((patient_id, label), {})
    key = " ".join(text.lower().split())
    number = seen.setdefault(key, len(seen) + 1)
    return f"<{label}-{number}>"
