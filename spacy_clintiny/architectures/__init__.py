from . import encoder  # noqa: F401
from . import token_head  # noqa: F401
