"""A Kubernetes API server double for tests: the real REST protocol (discovery, CRUD, list, watch), schema
validation with kubernetes-validate, mutating admission webhooks over HTTPS, and a node that runs pods' primary
containers as local processes. See README.md beside this file."""

from .double import KubeDouble
from .kubelet import EVICTED, IMAGE_PULL, NODE_LOST, OOM_KILLED, FaultRule
from .resources import ResourceType

__all__ = ["EVICTED", "IMAGE_PULL", "NODE_LOST", "OOM_KILLED", "FaultRule", "KubeDouble", "ResourceType"]
