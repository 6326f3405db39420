"""flytekit's WebhookTask: a sync connector task (ExecuteTaskSync on `pyflyte serve connector`), whose response a
downstream python task reads."""

from __future__ import annotations

from flytekit import task, workflow
from flytekit.extras.webhook import WebhookTask

call_hook = WebhookTask(
    name="flows.hooks.call_hook",
    url="{inputs.url}",
    method="GET",
    data={"who": "{inputs.who}"},
    dynamic_inputs={"url": str, "who": str},
    show_url=True,
)


@task
def response_of(info: dict) -> str:
    return f"{info['status_code']}:{info['response_data']}"


@workflow
def hook_then_read(url: str, who: str) -> str:
    return response_of(info=call_hook(url=url, who=who))
