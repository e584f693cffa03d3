from . import encoder  # noqa: F401
from . import token_head  # noqa: F401
from . import text_head  # noqa: F401
from . import relation_head  # noqa: F401
