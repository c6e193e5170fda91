"""The `vigil` command (`vigil.cli.app`), one module per group of commands."""

from vigil.cli.app import app, exit_now, main

__all__ = ["app", "exit_now", "main"]
