from . import (
    encoder,  # noqa: F401
    relation_head,  # noqa: F401
    text_head,  # noqa: F401
    token_head,  # noqa: F401
)
