"""The policies for workflow, node and task execution events (flyteadmin's rules, declared as data)."""

from __future__ import annotations

from collections.abc import Callable

from flyteidl.core import execution_pb2 as core

from aloft_admin.transitions.policy import Decision, Policy, Rule, Transition, phases

WF = core.WorkflowExecution
NODE = core.NodeExecution
TASK = core.TaskExecution

WORKFLOW_TERMINAL = phases([WF.SUCCEEDED, WF.FAILED, WF.ABORTED, WF.TIMED_OUT])
NODE_TERMINAL = phases([NODE.SUCCEEDED, NODE.FAILED, NODE.ABORTED, NODE.SKIPPED, NODE.TIMED_OUT, NODE.RECOVERED])
TASK_TERMINAL = phases([TASK.SUCCEEDED, TASK.FAILED, TASK.ABORTED])


def _same_phase(t: Transition) -> bool:
    return t.from_phase == t.to_phase


def _same_phase_not_newer(t: Transition) -> bool:
    """Task events repeat a phase with a higher ``phase_version`` to report progress (new logs, reasons)."""
    return t.from_phase == t.to_phase and t.to_version <= t.from_version


def prevent_duplicate(when: Callable[[Transition], bool] = _same_phase) -> Rule:
    return Rule(
        name="PreventDuplicateTransitions",
        decision=Decision.DUPLICATE,
        reason="phase {to} was already recorded",
        when=when,
    )


def no_leaving_terminal(terminal: frozenset[int]) -> Rule:
    return Rule(
        name="HandleTerminalStateTransitions",
        decision=Decision.REJECT_TERMINAL,
        reason="invalid phase change from terminal phase {frm} to {to}",
        from_phases=terminal,
    )


WORKFLOW_POLICY = Policy(
    name="workflow",
    terminal=WORKFLOW_TERMINAL,
    phase_name=WF.Phase.Name,
    rules=(
        prevent_duplicate(),
        no_leaving_terminal(WORKFLOW_TERMINAL),
        Rule(
            name="NoReturnToQueued",
            decision=Decision.REJECT_INVALID,
            reason="cannot go from {frm} back to {to}",
            from_phases=phases([WF.RUNNING, WF.SUCCEEDING, WF.FAILING, WF.ABORTING]),
            to_phases=phases([WF.UNDEFINED, WF.QUEUED]),
        ),
        Rule(
            name="AbortingEndsTerminal",
            decision=Decision.REJECT_INVALID,
            reason="invalid phase change from {frm} to {to}: an aborting execution can only end",
            from_phases=phases([WF.ABORTING]),
            to_phases=phases(set(WF.Phase.values()) - WORKFLOW_TERMINAL),
        ),
        Rule(
            name="NoUndefinedEvents",
            decision=Decision.REJECT_INVALID,
            reason="invalid phase change from {frm} to {to}",
            to_phases=phases([WF.UNDEFINED]),
        ),
    ),
)

NODE_POLICY = Policy(
    name="node",
    terminal=NODE_TERMINAL,
    phase_name=NODE.Phase.Name,
    rules=(
        prevent_duplicate(),
        no_leaving_terminal(NODE_TERMINAL),
    ),
)

TASK_POLICY = Policy(
    name="task",
    terminal=TASK_TERMINAL,
    phase_name=TASK.Phase.Name,
    rules=(
        prevent_duplicate(_same_phase_not_newer),
        no_leaving_terminal(TASK_TERMINAL),
    ),
)
