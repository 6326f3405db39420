"""Malformed specs (fields cleared, ids and variable names garbled) fail with CompileErrors, never a crash."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from aloft_compiler import CompileErrors, compile_workflow

SCENARIOS = sorted(p.name for p in (Path(__file__).parent / "fixtures").iterdir() if (p / "manifest.json").exists())
GARBLED = ["", "n0", "n1", "start-node", "end-node", "x", "o0", "[0].o0", "a.b", "[9].xs"]


def _messages(message: Any, out: list[Any]) -> list[Any]:
    out.append(message)
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].message_type is not None:
                for item in value.values():
                    _messages(item, out)
        elif field.is_repeated:
            for item in value:
                _messages(item, out)
        else:
            _messages(value, out)
    return out


def _mutate(message: Any, rng: random.Random) -> None:
    fields = message.ListFields()
    if not fields:
        return
    field, value = rng.choice(fields)
    is_list = field.is_repeated and not (field.message_type and field.message_type.GetOptions().map_entry)
    if is_list and len(value) and rng.random() < 0.5:
        del value[rng.randrange(len(value))]
    elif field.type == field.TYPE_STRING and not field.is_repeated:
        setattr(message, field.name, rng.choice(GARBLED))
    else:
        message.ClearField(field.name)


@pytest.mark.parametrize("seed", range(4))
def test_mutated_fixtures_never_crash(seed: int, load: Any) -> None:
    rng = random.Random(seed)
    outcomes = {"compiled": 0, "rejected": 0}
    for _ in range(100):
        scenario = load(rng.choice(SCENARIOS))
        target = rng.choice([scenario.primary, *scenario.tasks, *scenario.sub_workflows])
        candidates = _messages(target, [])
        for _ in range(rng.randint(1, 3)):
            _mutate(rng.choice(candidates), rng)
        try:
            compile_workflow(scenario.primary, scenario.sub_workflows, scenario.tasks, scenario.launch_plans)
            outcomes["compiled"] += 1
        except CompileErrors as errors:
            assert errors.errors, "a rejection always says why"
            outcomes["rejected"] += 1
    assert outcomes["rejected"] > 0
