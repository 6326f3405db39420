"""The ``aloftctl`` command: flytectl's verbs and nouns over admin's public gRPC API."""

from __future__ import annotations

import sys

import click
from click.shell_completion import get_completion_class

from aloftctl.client import CommandError
from aloftctl.commands.config_cmd import config_group
from aloftctl.commands.create import create
from aloftctl.commands.delete import delete
from aloftctl.commands.get import get
from aloftctl.commands.register import register
from aloftctl.commands.sandbox import sandbox
from aloftctl.commands.update import update
from aloftctl.config import ConfigError
from aloftctl.filters import FilterError
from aloftctl.session import AliasedGroup, Session, common_options

COMPLETION_VARIABLE = "_ALOFTCTL_COMPLETE"


@click.group(cls=AliasedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@common_options
@click.version_option(package_name="aloftctl")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """aloftctl: manage Flyte projects, workflows, launch plans, executions and attributes (flytectl's commands)."""
    ctx.ensure_object(Session)
    ctx.call_on_close(ctx.obj.close)


@cli.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script for bash, zsh or fish.

    \b
    bash:  source <(aloftctl completion bash)     (or add it to ~/.bashrc)
    zsh:   source <(aloftctl completion zsh)
    fish:  aloftctl completion fish > ~/.config/fish/completions/aloftctl.fish
    """
    completer = get_completion_class(shell)
    if completer is None:
        raise CommandError(f"no completion for {shell}")
    print(completer(cli, {}, "aloftctl", COMPLETION_VARIABLE).source())


for group in (get, create, update, delete, register, sandbox):
    cli.add_command(group)
cli.add_command(config_group)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user-facing failures print one line on stderr and exit 1, never a traceback."""
    try:
        cli.main(args=argv, prog_name="aloftctl", standalone_mode=False, complete_var=COMPLETION_VARIABLE)
    except (CommandError, ConfigError, FilterError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
