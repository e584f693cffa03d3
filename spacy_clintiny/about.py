__title__ = "spacy-clintiny"
__version__ = "0.1.0"
__summary__ = "Compact clinical transformers for spaCy: distillation, multi-task heads, de-identification"
