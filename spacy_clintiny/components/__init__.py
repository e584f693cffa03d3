from . import encoder  # noqa: F401
from . import ner  # noqa: F401
from . import rules  # noqa: F401
from . import textcat  # noqa: F401
from . import relation  # noqa: F401
from . import deid  # noqa: F401
