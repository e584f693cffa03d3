"""Packaged rule data (``spacy_clintiny/resources``), found with ``importlib.resources``."""

from importlib.resources import files


def resource_path(name: str) -> str:
    """Path of a packaged rule file, found with ``importlib.resources``.

    name (str): File name in ``spacy_clintiny/resources``.
    RETURNS (str): The file's path.
    """
    return str(files("spacy_clintiny").joinpath("resources", name))
