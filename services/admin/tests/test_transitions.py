"""Matrix tests over every (from, to) phase pair of the workflow, node and task policies."""

from __future__ import annotations

import itertools

import pytest
from flyteidl.core import execution_pb2 as core

from aloft_admin.transitions import NODE_POLICY, TASK_POLICY, WORKFLOW_POLICY, Decision, Policy, Transition

WF = core.WorkflowExecution
NODE = core.NodeExecution
TASK = core.TaskExecution

TERMINAL_NAMES = {
    "workflow": {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"},
    "node": {"SUCCEEDED", "FAILED", "ABORTED", "SKIPPED", "TIMED_OUT", "RECOVERED"},
    "task": {"SUCCEEDED", "FAILED", "ABORTED"},
}
ENUMS = {"workflow": WF.Phase, "node": NODE.Phase, "task": TASK.Phase}
POLICIES = [WORKFLOW_POLICY, NODE_POLICY, TASK_POLICY]


def all_pairs(policy: Policy) -> list[tuple[int, int]]:
    values = list(ENUMS[policy.name].values())
    return list(itertools.product(values, values))


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_terminal_sets_match_flyte(policy: Policy) -> None:
    names = {ENUMS[policy.name].Name(p) for p in policy.terminal}
    assert names == TERMINAL_NAMES[policy.name]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_every_pair_from_a_terminal_phase(policy: Policy) -> None:
    for frm, to in all_pairs(policy):
        if frm not in policy.terminal:
            continue
        verdict = policy.evaluate(Transition(frm, to))
        expected = Decision.DUPLICATE if frm == to else Decision.REJECT_TERMINAL
        assert verdict.decision is expected, (policy.name, frm, to)
        if expected is Decision.REJECT_TERMINAL:
            assert ENUMS[policy.name].Name(frm) in verdict.reason


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_same_phase_is_duplicate_everywhere(policy: Policy) -> None:
    for phase in ENUMS[policy.name].values():
        assert policy.evaluate(Transition(phase, phase)).decision is Decision.DUPLICATE


# Every non-terminal, non-duplicate workflow pair that is refused, and why (anything else is accepted).
WORKFLOW_INVALID = (
    {
        (frm, to)
        for frm in (WF.RUNNING, WF.SUCCEEDING, WF.FAILING, WF.ABORTING)
        for to in (WF.UNDEFINED, WF.QUEUED)
        if frm != to
    }
    | {(frm, WF.UNDEFINED) for frm in (WF.QUEUED,)}
    | {(WF.ABORTING, to) for to in (WF.RUNNING, WF.SUCCEEDING, WF.FAILING)}
)


def test_workflow_matrix_non_terminal_pairs() -> None:
    for frm, to in all_pairs(WORKFLOW_POLICY):
        if frm == to or frm in WORKFLOW_POLICY.terminal:
            continue
        verdict = WORKFLOW_POLICY.evaluate(Transition(frm, to))
        expected = Decision.REJECT_INVALID if (frm, to) in WORKFLOW_INVALID else Decision.ACCEPT
        assert verdict.decision is expected, (WF.Phase.Name(frm), WF.Phase.Name(to), verdict)


def test_workflow_forward_progress_is_accepted() -> None:
    for frm, to in [
        (WF.UNDEFINED, WF.QUEUED),
        (WF.QUEUED, WF.RUNNING),
        (WF.UNDEFINED, WF.RUNNING),
        (WF.RUNNING, WF.SUCCEEDING),
        (WF.SUCCEEDING, WF.SUCCEEDED),
        (WF.RUNNING, WF.FAILING),
        (WF.FAILING, WF.FAILED),
        (WF.RUNNING, WF.ABORTING),
        (WF.ABORTING, WF.ABORTED),
        (WF.QUEUED, WF.TIMED_OUT),
    ]:
        assert WORKFLOW_POLICY.evaluate(Transition(frm, to)).accepted


@pytest.mark.parametrize("policy", [NODE_POLICY, TASK_POLICY], ids=lambda p: p.name)
def test_node_and_task_accept_every_move_out_of_non_terminal(policy: Policy) -> None:
    for frm, to in all_pairs(policy):
        if frm == to or frm in policy.terminal:
            continue
        assert policy.evaluate(Transition(frm, to)).accepted, (policy.name, frm, to)


def test_task_same_phase_with_newer_version_is_progress() -> None:
    assert TASK_POLICY.evaluate(Transition(TASK.RUNNING, TASK.RUNNING, 0, 1)).accepted
    assert TASK_POLICY.evaluate(Transition(TASK.RUNNING, TASK.RUNNING, 2, 2)).decision is Decision.DUPLICATE
    assert TASK_POLICY.evaluate(Transition(TASK.RUNNING, TASK.RUNNING, 3, 1)).decision is Decision.DUPLICATE
    verdict = TASK_POLICY.evaluate(Transition(TASK.SUCCEEDED, TASK.SUCCEEDED, 0, 1))
    assert verdict.decision is Decision.REJECT_TERMINAL
    assert verdict.rule == "HandleTerminalStateTransitions"
