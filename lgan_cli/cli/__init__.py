"""The Typer command-line application."""
