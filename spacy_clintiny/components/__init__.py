from . import encoder  # noqa: F401
from . import ner  # noqa: F401
