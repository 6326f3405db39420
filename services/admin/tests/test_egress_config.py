"""Egress configuration is checked at start-up with the offending key named; template and CloudEvent forms."""

from __future__ import annotations

from typing import Any

import pytest
from flyteidl.admin import event_pb2 as admin_event_pb2
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core
from flyteidl.core import identifier_pb2
from pydantic import ValidationError

from aloft_admin.config import AdminConfig, KafkaConfig
from aloft_admin.integrations.cloudevents import event_id_and_time, published_kinds
from aloft_admin.integrations.cloudevents_kafka import binary_record, producer_settings
from aloft_admin.integrations.notifications import substitute


@pytest.mark.parametrize(
    ("sections", "words"),
    [
        ({"cloudEvents": {"enable": True, "type": "nats"}}, ["topicName is required"]),
        ({"cloudEvents": {"enable": True, "type": "pulsar"}}, ["cloudEvents.type", "kafka"]),
        (
            {"cloudEvents": {"enable": True, "type": "kafka", "eventsPublisher": {"topicName": "t"}}},
            ["kafka.brokers"],
        ),
        ({"cloudEvents": {"kafka": {"version": "latest"}}}, ["kafka.version 'latest'"]),
        ({"cloudEvents": {"enable": True, "type": "gcp", "eventsPublisher": {"topicName": "t"}}}, ["gcp.projectId"]),
        ({"cloudEvents": {"eventsPublisher": {"eventTypes": ["workflows"]}}}, ["unsupported ['workflows']"]),
        ({"cloudEvents": {"cloudEventVersion": "v3"}}, ["cloudEventVersion"]),
        ({"notifications": {"type": "aws"}}, ["publisher.topicName and processor.queueName"]),
        ({"notifications": {"type": "gcp"}}, ["type gcp needs publisher.topicName and processor.queueName"]),
        (
            {"notifications": {"type": "gcp", "publisher": {"topicName": "t"}, "processor": {"queueName": "s"}}},
            ["gcp.projectId"],
        ),
        ({"notifications": {"type": "azure"}}, ["notifications.type"]),
        ({"cluster_resources": {"templateDir": "/x"}}, ["templateDir"]),
    ],
)
def test_bad_egress_config_names_the_key(sections: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        AdminConfig.model_validate(sections)
    text = str(caught.value)
    for word in words:
        assert word in text, text


def test_event_type_filters() -> None:
    config = AdminConfig.model_validate(
        {"cloudEvents": {"enable": True, "type": "nats", "eventsPublisher": {"topicName": "t", "eventTypes": ["node"]}}}
    )
    assert published_kinds(config.cloudEvents) == {"flyteidl.admin.NodeExecutionEventRequest"}
    everything = AdminConfig.model_validate(
        {"cloudEvents": {"enable": True, "type": "nats", "eventsPublisher": {"topicName": "t", "eventTypes": ["*"]}}}
    )
    assert len(published_kinds(everything.cloudEvents)) == 3


def test_templates_take_flyte_variables_with_and_without_spaces() -> None:
    execution = execution_pb2.Execution(
        id=identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name="n"),
        spec=execution_pb2.ExecutionSpec(launch_plan=identifier_pb2.Identifier(name="lp", version="v7")),
        closure=execution_pb2.ExecutionClosure(workflow_id=identifier_pb2.Identifier(name="wf", project="wp")),
    )
    error = core.ExecutionError(message="bad")
    text = "{{ project }}/{{domain}}/{{ name }} {{phase}} {{ workflow.name }}@{{workflow.project}} "
    text += "{{ launch_plan.version }}"
    assert substitute(text, None, core.WorkflowExecution.TIMED_OUT, execution) == "p/d/n timed_out wf@wp v7"
    assert substitute("x{{ error }}", error, core.WorkflowExecution.FAILED, execution) == (
        "x The execution failed with error: [bad]."
    )
    assert substitute("{{ unknown }}", None, core.WorkflowExecution.FAILED, execution) == "{{ unknown }}"


def test_task_event_ids_name_the_attempt_and_phase_version() -> None:
    node = identifier_pb2.NodeExecutionIdentifier(
        node_id="n0", execution_id=identifier_pb2.WorkflowExecutionIdentifier(project="p", domain="d", name="e")
    )
    request = admin_event_pb2.TaskExecutionEventRequest()
    request.event.task_id.CopyFrom(identifier_pb2.Identifier(resource_type=identifier_pb2.TASK, name="t", version="1"))
    request.event.parent_node_execution_id.CopyFrom(node)
    request.event.retry_attempt = 2
    request.event.phase = core.TaskExecution.RUNNING
    request.event.phase_version = 3
    request.event.occurred_at.FromNanoseconds(1_767_225_600_500_000_000)
    event_id, occurred = event_id_and_time(request)
    assert event_id == (
        'task_id:{resource_type:TASK name:"t" version:"1"} '
        'node_execution_id:{node_id:"n0" execution_id:{project:"p" domain:"d" name:"e"}} retry_attempt:2.RUNNING.3'
    )
    assert occurred == "2026-01-01T00:00:00.5Z"


def test_kafka_settings_follow_flytes_sarama_config(tmp_path: Any) -> None:
    password = tmp_path / "password"
    password.write_text("s3cret\n")
    kafka = KafkaConfig.model_validate(
        {
            "brokers": ["k1:9092", "k2:9092"],
            "version": "2.1.0",
            "saslConfig": {"enabled": True, "user": "flyte", "passwordPath": str(password)},
            "tlsConfig": {"enabled": True, "insecureSkipVerify": True},
        }
    )
    settings = producer_settings(kafka)
    assert settings["bootstrap.servers"] == "k1:9092,k2:9092"
    assert settings["broker.version.fallback"] == "2.1.0" and "api.version.request" not in settings
    assert (settings["sasl.mechanism"], settings["sasl.username"], settings["sasl.password"]) == (
        "PLAIN",
        "flyte",
        "s3cret",
    )
    assert settings["security.protocol"] == "SASL_SSL"
    assert settings["enable.ssl.certificate.verification"] is False
    old = producer_settings(KafkaConfig.model_validate({"brokers": ["k:9092"], "version": "0.8.2.0"}))
    assert old["api.version.request"] is False and old["security.protocol"] == "PLAINTEXT"


def test_kafka_records_are_the_binary_mode_of_the_cloud_event() -> None:
    value, headers = binary_record(
        {"specversion": "1.0", "id": "i", "source": "s", "type": "t", "time": "2026-01-01T00:00:00Z",
         "datacontenttype": "application/json", "jsonschemaurl": "u", "data": {"event": {"phase": "RUNNING"}}}
    )  # fmt: skip
    assert value == b'{"event":{"phase":"RUNNING"}}'
    assert dict(headers) == {
        "ce_specversion": b"1.0", "ce_id": b"i", "ce_source": b"s", "ce_type": b"t",
        "ce_time": b"2026-01-01T00:00:00Z", "ce_jsonschemaurl": b"u", "content-type": b"application/json",
    }  # fmt: skip
