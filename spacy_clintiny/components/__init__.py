from . import (
    deid,  # noqa: F401
    encoder,  # noqa: F401
    evidence,  # noqa: F401
    ner,  # noqa: F401
    relation,  # noqa: F401
    rules,  # noqa: F401
    textcat,  # noqa: F401
)
