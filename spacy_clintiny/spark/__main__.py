"""``python -m spacy_clintiny.spark INPUT OUTPUT [options]``: ``clintiny spark-deid``."""

from spacy_clintiny.cli.spark import main

if __name__ == "__main__":
    main()
