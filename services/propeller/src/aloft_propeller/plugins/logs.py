"""Log links from ``plugins.logs.templates`` (Flyte's tasklog template plugin, with the variables that exist locally).

Variables are written ``{{ .name }}`` or ``{{$name}}``, case-insensitive, as in flyteplugins' tasklog/template.go.
Local ones: executionName/Project/Domain, nodeId, taskID (task name), taskVersion/Project/Domain, taskRetryAttempt,
retryAttempt, generatedName / podName / logName (the attempt's unique id), logKey (blob key of stdout.log in the local
store, or its URI for S3), stdoutUri, stderrUri, hostname, podUnixStartTime, podRFC3339StartTime.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from aloft_propeller.config import LogTemplate
from aloft_propeller.plugins.base import TaskExecutionContext, TaskLog

_VARIABLE = re.compile(r"{{\s*[.$]([A-Za-z0-9_]+)\s*}}")


def render_template(template: str, variables: Mapping[str, str]) -> str:
    """Substitute known variables; unknown ones are left as written so a misconfiguration is visible."""
    lowered = {key.lower(): value for key, value in variables.items()}

    def substitute(match: re.Match[str]) -> str:
        return lowered.get(match.group(1).lower(), match.group(0))

    return _VARIABLE.sub(substitute, template)


def render_log_links(templates: Sequence[LogTemplate], variables: Mapping[str, str]) -> tuple[TaskLog, ...]:
    links: list[TaskLog] = []
    for template in templates:
        for uri in template.templateUris:
            links.append(TaskLog(name=template.displayName, uri=render_template(uri, variables)))
    return tuple(links)


def execution_variables(ctx: TaskExecutionContext) -> dict[str, str]:
    """The variables every plugin's links share: the execution, node, task and attempt."""
    node_execution = ctx.task_execution_id.node_execution_id
    execution = node_execution.execution_id
    task_id = ctx.task_execution_id.task_id
    retry_attempt = str(ctx.task_execution_id.retry_attempt)
    return {
        "executionName": execution.name,
        "executionProject": execution.project,
        "executionDomain": execution.domain,
        "nodeId": node_execution.node_id,
        "taskID": task_id.name,
        "taskVersion": task_id.version,
        "taskProject": task_id.project,
        "taskDomain": task_id.domain,
        "taskRetryAttempt": retry_attempt,
        "retryAttempt": retry_attempt,
        "generatedName": ctx.unique_id,
    }
