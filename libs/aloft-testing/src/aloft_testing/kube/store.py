"""The object store behind the double: etcd's role — objects, one global resourceVersion, an event log for watches.

Single-threaded by design: every call runs on the server's event loop (the `KubeDouble` marshals calls from other
threads), so no locks are needed and watchers see events in resourceVersion order.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import already_exists, conflict, gone, not_found
from .resources import ResourceType
from .selectors import Matcher

Obj = dict[str, Any]
StoreKey = tuple[str, str]  # (group, plural): versions of one kind share storage, like the real server
# Events kept for watches resuming from an older resourceVersion; older ones get 410 Gone, as after etcd compaction.
EVENT_LOG_SIZE = 20000


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Event:
    rv: int
    key: StoreKey
    type: str  # ADDED | MODIFIED | DELETED
    obj: Obj
    previous: Obj | None = None


@dataclass(eq=False)
class _Watcher:
    key: StoreKey
    namespace: str | None
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)


def store_key(rtype: ResourceType) -> StoreKey:
    return (rtype.group, rtype.plural)


class Store:
    def __init__(self) -> None:
        self._objects: dict[StoreKey, dict[tuple[str, str], Obj]] = {}
        self._rv = 0
        self._log: deque[Event] = deque(maxlen=EVENT_LOG_SIZE)
        self._watchers: set[_Watcher] = set()
        # Called after every change (the kubelet, garbage collector and CRD registry listen here).
        self.listeners: list[Callable[[Event], None]] = []

    @property
    def resource_version(self) -> int:
        return self._rv

    def _bucket(self, rtype: ResourceType) -> dict[tuple[str, str], Obj]:
        return self._objects.setdefault(store_key(rtype), {})

    def _emit(self, rtype: ResourceType, type_: str, obj: Obj, previous: Obj | None = None) -> None:
        event = Event(self._rv, store_key(rtype), type_, copy.deepcopy(obj), previous)
        self._log.append(event)
        namespace = obj.get("metadata", {}).get("namespace", "")
        for watcher in list(self._watchers):
            if watcher.key == event.key and watcher.namespace in (None, namespace):
                watcher.queue.put_nowait(event)
        for listener in list(self.listeners):
            listener(event)

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    # ---- reads -------------------------------------------------------------------------------------------------
    def get(self, rtype: ResourceType, namespace: str, name: str) -> Obj:
        obj = self._bucket(rtype).get((namespace, name))
        if obj is None:
            raise not_found(rtype.plural, name, rtype.group)
        return copy.deepcopy(obj)

    def find(self, rtype: ResourceType, namespace: str, name: str) -> Obj | None:
        obj = self._bucket(rtype).get((namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def select(self, rtype: ResourceType, namespace: str | None, matcher: Matcher | None = None) -> list[Obj]:
        out = []
        for (ns, _), obj in sorted(self._bucket(rtype).items()):
            if namespace is not None and ns != namespace:
                continue
            if matcher is None or matcher(obj):
                out.append(copy.deepcopy(obj))
        return out

    def namespaces_in_use(self, namespace: str) -> list[tuple[StoreKey, str]]:
        return [(key, name) for key, bucket in self._objects.items() for (ns, name) in bucket if ns == namespace]

    # ---- writes ------------------------------------------------------------------------------------------------
    def create(self, rtype: ResourceType, obj: Obj) -> Obj:
        meta = obj.setdefault("metadata", {})
        namespace, name = meta.get("namespace", ""), meta["name"]
        bucket = self._bucket(rtype)
        if (namespace, name) in bucket:
            raise already_exists(rtype.plural, name, rtype.group)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_iso()
        meta["resourceVersion"] = self._next_rv()
        if "generation" not in meta:
            meta["generation"] = 1
        meta.pop("deletionTimestamp", None)
        bucket[(namespace, name)] = copy.deepcopy(obj)
        self._emit(rtype, "ADDED", obj)
        return copy.deepcopy(obj)

    def update(self, rtype: ResourceType, obj: Obj, *, status_only: bool = False) -> Obj:
        """Replace an object; a resourceVersion in the body must match (optimistic concurrency)."""
        meta = obj.setdefault("metadata", {})
        namespace, name = meta.get("namespace", ""), meta["name"]
        bucket = self._bucket(rtype)
        current = bucket.get((namespace, name))
        if current is None:
            raise not_found(rtype.plural, name, rtype.group)
        cur_meta = current["metadata"]
        if meta.get("resourceVersion") and meta["resourceVersion"] != cur_meta["resourceVersion"]:
            raise conflict(rtype.plural, name, rtype.group)
        if status_only:
            merged = copy.deepcopy(current)
            merged["status"] = obj.get("status", {})
            obj = merged
        elif "status" in rtype.subresources and "status" in current:
            # The main resource ignores status changes when a status subresource exists (as the API server does).
            obj["status"] = copy.deepcopy(current["status"])
        meta = obj["metadata"]
        for immutable in ("uid", "creationTimestamp", "deletionTimestamp"):
            if immutable in cur_meta:
                meta[immutable] = cur_meta[immutable]
            else:
                meta.pop(immutable, None)
        meta["generation"] = cur_meta.get("generation", 1)
        if not status_only and obj.get("spec") != current.get("spec"):
            meta["generation"] += 1
        meta["resourceVersion"] = cur_meta["resourceVersion"]
        if obj == current:
            return copy.deepcopy(current)  # a no-op update keeps the resourceVersion and emits nothing
        meta["resourceVersion"] = self._next_rv()
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._remove(rtype, obj)
        bucket[(namespace, name)] = copy.deepcopy(obj)
        self._emit(rtype, "MODIFIED", obj, previous=current)
        return copy.deepcopy(obj)

    def delete(self, rtype: ResourceType, namespace: str, name: str, *, grace: bool = False) -> Obj:
        """Delete now, or mark deleting (deletionTimestamp) while finalizers remain or a graceful stop is pending."""
        bucket = self._bucket(rtype)
        current = bucket.get((namespace, name))
        if current is None:
            raise not_found(rtype.plural, name, rtype.group)
        if current["metadata"].get("finalizers") or grace:
            if current["metadata"].get("deletionTimestamp"):
                return copy.deepcopy(current)
            marked = copy.deepcopy(current)
            marked["metadata"]["deletionTimestamp"] = now_iso()
            marked["metadata"]["resourceVersion"] = self._next_rv()
            bucket[(namespace, name)] = marked
            self._emit(rtype, "MODIFIED", marked, previous=current)
            return copy.deepcopy(marked)
        return self._remove(rtype, current)

    def finish_deletion(self, rtype: ResourceType, namespace: str, name: str) -> None:
        """A graceful deletion completed (the kubelet stopped the pod): remove unless finalizers hold it."""
        current = self._bucket(rtype).get((namespace, name))
        if current is not None and not current["metadata"].get("finalizers"):
            self._remove(rtype, current)

    def _remove(self, rtype: ResourceType, obj: Obj) -> Obj:
        meta = obj["metadata"]
        self._bucket(rtype).pop((meta.get("namespace", ""), meta["name"]), None)
        removed = copy.deepcopy(obj)
        removed["metadata"]["resourceVersion"] = self._next_rv()
        self._emit(rtype, "DELETED", removed)
        return removed

    # ---- watches -----------------------------------------------------------------------------------------------
    async def watch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        matcher: Matcher,
        since: int | None,
        stop: asyncio.Event,
    ) -> AsyncIterator[tuple[str, Obj]]:
        """Events after `since` (None: synthetic ADDED for every current object first), filtered like the API server:
        an object that stops matching the selector is reported DELETED, one that starts matching ADDED."""
        key = store_key(rtype)
        watcher = _Watcher(key, namespace)
        self._watchers.add(watcher)
        stopper = asyncio.ensure_future(_stop_when(stop, watcher.queue))
        last_rv = self._rv if since is None else since
        try:
            if since is None:
                for obj in self.select(rtype, namespace, matcher):
                    yield "ADDED", obj
            else:
                oldest = self._log[0].rv if self._log else self._rv + 1
                if since < self._rv and since < oldest - 1:
                    raise gone(f"too old resource version: {since} ({oldest - 1})")
                for event in list(self._log):
                    if event.rv > since and event.key == key:
                        ns = event.obj.get("metadata", {}).get("namespace", "")
                        if namespace in (None, ns):
                            watcher.queue.put_nowait(event)
            while not stop.is_set():
                queued = await watcher.queue.get()
                if queued is None:
                    return
                if queued.rv <= last_rv:
                    continue
                last_rv = queued.rv
                translated = _translate(queued, matcher)
                if translated:
                    yield translated
        finally:
            stopper.cancel()
            self._watchers.discard(watcher)


async def _stop_when(stop: asyncio.Event, queue: asyncio.Queue[Event | None]) -> None:
    await stop.wait()
    queue.put_nowait(None)


def _translate(event: Event, matcher: Matcher) -> tuple[str, Obj] | None:
    now = matcher(event.obj)
    if event.type != "MODIFIED" or event.previous is None:
        return (event.type, event.obj) if now else None
    before = matcher(event.previous)
    if now and before:
        return "MODIFIED", event.obj
    if now:
        return "ADDED", event.obj
    if before:
        return "DELETED", event.obj
    return None
