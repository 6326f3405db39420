"""What every command shares: the resolved config, a lazily opened admin client, flytectl's common flags."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from aloftctl import config as config_module
from aloftctl.client import AdminClient, CommandError
from aloftctl.filters import DEFAULT_LIMIT, DEFAULT_SORT_KEY, ListOptions
from aloftctl.output import FORMATS

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Session:
    config_file: str | None = None
    _config: config_module.ClientConfig | None = None
    _client: AdminClient | None = None
    project_flag: str = ""
    domain_flag: str = ""
    output: str = "table"
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> config_module.ClientConfig:
        if self._config is None:
            self._config = config_module.resolve(self.config_file)
        return self._config

    @property
    def client(self) -> AdminClient:
        if self._client is None:
            self._client = AdminClient(self.config)
        return self._client

    @property
    def project(self) -> str:
        return self.project_flag or self.config.project

    @property
    def domain(self) -> str:
        return self.domain_flag or self.config.domain

    def require_project_domain(self) -> tuple[str, str]:
        if not self.project or not self.domain:
            missing = " and ".join(
                n for n, v in (("-p/--project", self.project), ("-d/--domain", self.domain)) if not v
            )
            raise CommandError(f"{missing} required (or set project/domain in the config file)")
        return self.project, self.domain

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def session() -> Session:
    return click.get_current_context().ensure_object(Session)


def _store(attribute: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _: click.Parameter, value: Any) -> Any:
        if value not in (None, ""):
            setattr(ctx.ensure_object(Session), attribute, value)
        return value

    return callback


def common_options(func: F) -> F:
    """flytectl's persistent flags, accepted after the noun as flytectl users type them."""
    decorators = [
        click.option("-c", "--config", "config_file", expose_value=False, callback=_store("config_file"),
                     help="config file (default: $FLYTECTL_CONFIG, then ~/.flyte/config.yaml)"),
        click.option("-p", "--project", expose_value=False, callback=_store("project_flag"), help="project"),
        click.option("-d", "--domain", expose_value=False, callback=_store("domain_flag"), help="domain"),
        click.option("-o", "--output", type=click.Choice(FORMATS, case_sensitive=False), expose_value=False,
                     callback=_store("output"), help="output format: table (default), yaml, json, dot"),
    ]  # fmt: skip
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def filter_options(func: F) -> F:
    """``--filter.*`` flags (and the short ``--limit`` / ``--filter`` spellings) → a ``list_options`` argument."""
    decorators = [
        click.option("--filter.fieldSelector", "--filter", "field_selector", default="",
                     help='e.g. "execution.phase in (FAILED;SUCCEEDED),execution.duration<200"'),
        click.option("--filter.limit", "--limit", "limit", type=click.IntRange(min=1), default=DEFAULT_LIMIT,
                     show_default=True, help="how many results"),
        click.option("--filter.sortBy", "sort_by", default=DEFAULT_SORT_KEY, show_default=True, help="sort key"),
        click.option("--filter.asc", "asc", is_flag=True, help="ascending order (default: descending)"),
        click.option("--filter.page", "page", type=click.IntRange(min=1), default=1, show_default=True,
                     help="page number, in pages of --filter.limit"),
    ]  # fmt: skip
    for decorator in reversed(decorators):
        func = decorator(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["list_options"] = ListOptions(
            field_selector=kwargs.pop("field_selector"),
            limit=kwargs.pop("limit"),
            sort_by=kwargs.pop("sort_by"),
            asc=kwargs.pop("asc"),
            page=kwargs.pop("page"),
        )
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class AliasedGroup(click.Group):
    """A group whose commands also answer to flytectl's aliases (plural nouns, ``lp``, …)."""

    def __init__(self, *args: Any, aliases: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases: dict[str, str] = dict(aliases or {})

    def add_command_with_aliases(self, command: click.Command, *aliases: str) -> None:
        self.add_command(command)
        for alias in aliases:
            self.aliases[alias] = command.name or ""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, self.aliases.get(cmd_name, cmd_name))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        return (command.name if command else name), command, rest
