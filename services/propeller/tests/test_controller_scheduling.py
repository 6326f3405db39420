"""When the controller schedules a workflow's next round (controller/controller.py), with a scripted round runner."""

from __future__ import annotations

from collections.abc import Callable

from aloft_propeller.config import PropellerSection
from aloft_propeller.controller.controller import Controller
from aloft_propeller.controller.round import UNTIL_WOKEN, RoundOutcome
from aloft_propeller.store.base import ExecutionKey
from aloft_service.errors import NotFound

KEY = ExecutionKey("p", "d", "scheduled")


class ScriptedRunner:
    """Answers each round with the next outcome (or raises it)."""

    def __init__(self, *outcomes: RoundOutcome | Exception) -> None:
        self.outcomes = list(outcomes)
        self.rounds = 0

    def on_delivered(self, callback: Callable[[ExecutionKey], None]) -> None:
        self.delivered = callback

    async def run_round(self, key: ExecutionKey) -> RoundOutcome:
        self.rounds += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def close(self) -> None:
        return None


def controller(runner: ScriptedRunner) -> Controller:
    return Controller(PropellerSection(), store=None, runner=runner)  # type: ignore[arg-type]


async def test_a_workflow_that_finishes_after_waiting_for_its_last_delivery_has_no_round_left() -> None:
    # Its terminal round waited for the last delivery (UNTIL_WOKEN: a fallback round after downstream-eval-duration);
    # the delivery's end woke it and it finished: the fallback round must not run on the finished workflow.
    runner = ScriptedRunner(
        RoundOutcome(changed=False, terminal=False, next_poll=UNTIL_WOKEN),
        RoundOutcome(changed=False, terminal=True),
    )
    ctl = controller(runner)
    await ctl._process(KEY)
    assert ctl.queue.scheduled(KEY)
    runner.delivered(KEY)  # the delivery ended
    assert await ctl.queue.get() == KEY
    await ctl._process(KEY)
    ctl.queue.done(KEY)
    assert not ctl.queue.scheduled(KEY) and len(ctl.queue) == 0
    assert runner.rounds == 2
    ctl.queue.shut_down()


async def test_a_running_workflow_keeps_its_fallback_round() -> None:
    runner = ScriptedRunner(RoundOutcome(changed=False, terminal=False, next_poll=UNTIL_WOKEN))
    ctl = controller(runner)
    await ctl._process(KEY)
    assert ctl.queue.scheduled(KEY)
    ctl.queue.shut_down()


async def test_a_deleted_workflow_has_no_round_left() -> None:
    runner = ScriptedRunner(
        RoundOutcome(changed=False, terminal=False, next_poll=UNTIL_WOKEN), NotFound("execution gone")
    )
    ctl = controller(runner)
    await ctl._process(KEY)
    await ctl._process(KEY)
    assert not ctl.queue.scheduled(KEY)
    ctl.queue.shut_down()
