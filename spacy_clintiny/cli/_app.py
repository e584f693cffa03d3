import typer

from ..heap import keep_freed_memory

app = typer.Typer(
    name="clintiny",
    help="Compact clinical transformers for spaCy.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """Compact clinical transformers for spaCy."""
    keep_freed_memory()  # batches reuse freed memory instead of faulting in fresh pages (heap.py)
