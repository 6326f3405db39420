"""What the webhook asks of the Kubernetes API (official client): its certificate secret and its
MutatingWebhookConfiguration."""

from __future__ import annotations

import base64
import logging
import os

from kubernetes import client, config

from aloft_webhook.admission import MUTATE_PATH
from aloft_webhook.certs import WebhookCerts
from aloft_webhook.config import WebhookSection
from aloft_webhook.secrets.requests import POD_LABEL, POD_LABEL_VALUE

log = logging.getLogger(__name__)
WEBHOOK_NAME = "flyte-pod-webhook.flyte.org"  # Flyte's name: a cluster never runs both


def api_client(section: WebhookSection) -> client.ApiClient:
    if section.kubeConfig:
        return config.new_client_from_config(config_file=os.path.expanduser(section.kubeConfig))
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()
        return client.ApiClient()
    return config.new_client_from_config()


def store_certs(api: client.ApiClient, section: WebhookSection, certs: WebhookCerts, *, replace: bool = False) -> bool:
    """Create the certificate secret; an existing one is kept (replicas share it) unless `replace`. True if written."""
    v1 = client.CoreV1Api(api)
    namespace = section.resolved_namespace()
    body = {
        "metadata": {
            "name": section.secretName,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": section.serviceName},
        },
        "type": "Opaque",
        "data": {k: base64.b64encode(v).decode() for k, v in certs.as_secret_data().items()},
    }
    try:
        v1.create_namespaced_secret(namespace, body)
        return True
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    if replace:
        v1.replace_namespaced_secret(section.secretName, namespace, body)
        return True
    return False


def load_certs(api: client.ApiClient, section: WebhookSection) -> WebhookCerts:
    secret = client.CoreV1Api(api).read_namespaced_secret(section.secretName, section.resolved_namespace())
    data = {k: base64.b64decode(v) for k, v in (secret.data or {}).items()}
    return WebhookCerts.from_secret_data(data)


def webhook_configuration(section: WebhookSection, ca_cert: bytes) -> dict[str, object]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": section.serviceName},
        "webhooks": [
            {
                "name": WEBHOOK_NAME,
                "clientConfig": {
                    "caBundle": base64.b64encode(ca_cert).decode(),
                    "service": {
                        "name": section.serviceName,
                        "namespace": section.resolved_namespace(),
                        "path": MUTATE_PATH,
                        "port": section.servicePort,
                    },
                },
                "rules": [{"operations": ["CREATE"], "apiGroups": ["*"], "apiVersions": ["v1"], "resources": ["pods"]}],
                # Ignore, as Flyte: a webhook outage must not stop every pod in the cluster; the task pods then fail
                # to find their secrets and the attempt is retried.
                "failurePolicy": "Ignore",
                "sideEffects": "NoneOnDryRun",
                "admissionReviewVersions": ["v1"],
                "objectSelector": {"matchLabels": {POD_LABEL: POD_LABEL_VALUE}},
            }
        ],
    }


def register_webhook(api: client.ApiClient, section: WebhookSection, ca_cert: bytes) -> None:
    """Create or update the MutatingWebhookConfiguration so the API server calls us with our CA bundle."""
    admission = client.AdmissionregistrationV1Api(api)
    body = webhook_configuration(section, ca_cert)
    try:
        admission.create_mutating_webhook_configuration(body)
        log.info("created MutatingWebhookConfiguration %s", section.serviceName)
    except client.ApiException as exc:
        if exc.status != 409:
            raise
        current = admission.read_mutating_webhook_configuration(section.serviceName)
        body["metadata"] = {"name": section.serviceName, "resourceVersion": current.metadata.resource_version}
        admission.replace_mutating_webhook_configuration(section.serviceName, body)
        log.info("updated MutatingWebhookConfiguration %s", section.serviceName)
