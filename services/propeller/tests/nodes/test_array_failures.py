"""The array node's failure summary matches flyteplugins' ErrorMessageCollector (errorcollector/collector_test.go)."""

from __future__ import annotations

from aloft_propeller.nodes.array.failures import index_ranges, summary


def test_summary_groups_indexes_by_message_as_flyte() -> None:
    failures = [(0, "duplicate message"), (1, "duplicate message"), (2, "unique message"), (3, "duplicate message")]
    assert summary(failures, 1000) == "[0-1][3]: duplicate message\n[2]: unique message\n"
    assert summary(failures, 30) == "[0-1][3]: duplicate message\n... and many more."


def test_index_ranges_merge_consecutive_indexes() -> None:
    assert index_ranges([5, 0, 1, 2, 9, 10]) == "[0-2][5][9-10]"
    assert index_ranges([]) == ""
