"""Phase rules for workflow, node and task events, declared as data.

Each rule is small and named, says which (from, to) phase pairs it governs, and gives a verdict; a policy lists
rules in order and the first rule that governs a transition decides it (no rule: accepted). The event managers
turn verdicts into answers: DUPLICATE is acknowledged without a write, REJECT_TERMINAL is FAILED_PRECONDITION with
``EventErrorAlreadyInTerminalState`` details, REJECT_INVALID is FAILED_PRECONDITION naming both phases.
"""

from aloft_admin.transitions.phases import NODE_POLICY, TASK_POLICY, WORKFLOW_POLICY
from aloft_admin.transitions.policy import Decision, Policy, Rule, Transition, Verdict

__all__ = ["NODE_POLICY", "TASK_POLICY", "WORKFLOW_POLICY", "Decision", "Policy", "Rule", "Transition", "Verdict"]
