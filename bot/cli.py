"""The `helpdesk` command. Subcommands load lazily so a one-shot command starts fast."""

from __future__ import annotations

import importlib
import sys

import click

from ingest.errors import HelpdeskError

# name -> "module:attribute" of a click command; imported only when that command runs.
COMMANDS = {
    "ingest": "ingest.cli:ingest",
    "passages": "ingest.cli:passages",
    "run": "bot.serve:run",
    "search": "bot.commands:search",
    "ask": "bot.commands:ask",
    "chat": "bot.commands:chat",
    "serve": "bot.serve:serve",
    "eval": "eval.cli:eval_command",
    "llm": "bot.llm_command:llm",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="helpdesk")
def cli() -> None:
    """Help-desk assistant over the partner-center help pages."""


def main() -> None:
    """Run the CLI; turn the product's own errors into a message and exit code 1."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except HelpdeskError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
