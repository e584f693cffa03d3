"""Decoding DocBins without scanning the installed packages, or every registered function, at
every msgpack call.

srsly looks up its msgpack encoder and decoder hooks through catalogue registries each time a
packer or unpacker is made: every ``msgpack_loads``, and a DocBin decodes each doc's span groups
with one such call per group. Each lookup did two scans:

- the ``srsly_msgpack_*`` entry points of every installed distribution (about 0.4 ms a call
  here, a quarter of the corpus load: 27 s -> 20 s for the workflow's training files);
- catalogue's global ``REGISTRY``, every function that spaCy, thinc and their plugins have
  registered, copied and compared key by key to find the two or three hooks of srsly's
  namespace. In a training process that registry holds thousands of entries: a 300-step
  concept run spent 29 of its 129 profiled seconds there (36,562 calls).

The entry points of an environment do not change while a process runs: ``freeze_msgpack_hooks``
reads them once, registers what they provide by name in the same registries, stops the
per-call entry-point scan, and gives each registry a ``get_all`` that remembers which keys of
``REGISTRY`` are its own (``_NamespaceLookup``). Encoding and decoding are unchanged.
"""

from typing import Dict, Iterable, Tuple

import catalogue
from srsly.msgpack import msgpack_decoders, msgpack_encoders


class _NamespaceLookup:
    """``Registry.get_all`` for a registry whose entry points are frozen: the same names and
    functions, in the same order, without scanning catalogue's whole ``REGISTRY`` at each call.

    The keys of the namespace are found by one scan and found again when ``REGISTRY`` changes
    size or a remembered key is gone; the functions are read from ``REGISTRY`` at every call, so
    a hook registered again under its name takes effect at once.
    """

    def __init__(self, namespace: Tuple[str, ...]) -> None:
        self.namespace = tuple(namespace)
        self.size = -1
        self.keys: Tuple[Tuple[str, ...], ...] = ()

    def _scan(self) -> None:
        registry = catalogue.REGISTRY.copy()
        depth = len(self.namespace) + 1
        self.keys = tuple(key for key in registry if len(key) == depth and key[:-1] == self.namespace)
        self.size = len(registry)

    def __call__(self) -> Dict[str, object]:
        registry = catalogue.REGISTRY
        # same size but a key gone: a hook was removed and another entry added since the last scan
        if len(registry) != self.size or any(key not in registry for key in self.keys):
            self._scan()
        return {key[-1]: registry[key] for key in self.keys}


def freeze_msgpack_hooks(registries: Iterable[catalogue.Registry] = (msgpack_encoders, msgpack_decoders)) -> None:
    """Register the installed msgpack hook entry points once and stop re-reading them and
    re-scanning catalogue's registry. Idempotent; hooks registered in code later still apply.

    registries (Iterable[catalogue.Registry]): srsly's msgpack encoder and decoder registries.
    """
    for registry in registries:
        if not registry.entry_points:
            continue
        for name, func in registry.get_entry_points().items():
            if name not in registry:
                registry.register(name, func=func)
        registry.entry_points = False
        registry.get_all = _NamespaceLookup(registry.namespace)
