from . import mixed_corpus  # noqa: F401
