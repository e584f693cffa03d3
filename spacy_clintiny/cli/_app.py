import typer

app = typer.Typer(
    name="clintiny",
    help="Compact clinical transformers for spaCy.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """Compact clinical transformers for spaCy."""
