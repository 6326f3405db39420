"""Smoke test of the images `make images` built: each service starts from its image as the non-root user and its
health endpoint answers, the image's own HEALTHCHECK command passes, every module of the service imports and every
import its sources make (lazy ones, like admin's Kafka and Pub/Sub clients, included) resolves, and the image
metadata is what a cluster needs (numeric non-root user, volumes, OCI labels).

Run by `make images` after the build (not by `make test`: it needs the images). Containers run with
`buildah run --isolation chroot`, which shares the host's network, so each service listens on free ports of this
machine, set in a config file mounted over /etc/aloft like the Helm charts' ConfigMap. Read-only root: the
service runs as uid 65532, which owns only /var/lib/aloft (and /tmp is world-writable), so a start that succeeds
writes nowhere else (buildah cannot mount the root read-only; the charts set readOnlyRootFilesystem).

The webhook needs a Kubernetes API (its certificate Secret, its MutatingWebhookConfiguration): it gets
aloft-testing's Kubernetes API double (a double, not a cluster), runs `init-certs` and then serves over TLS.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from aloft_testing.kube import KubeDouble
from aloft_testing.servers import free_port

TAG = os.environ.get("TAG", "dev")
SERVICES = os.environ.get("SERVICES", "admin propeller datacatalog webhook console scheduler").split()
# The config keys of each service's ports: the first one serves /healthcheck.
PORT_KEYS = {
    "admin": ["httpPort", "grpcPort"],
    "datacatalog": ["httpPort", "grpcPort"],
    "propeller": ["httpPort", "grpcPort"],
    "webhook": ["listenPort"],
    "console": ["httpPort"],
    "scheduler": ["httpPort", "grpcPort"],
}
START_TIMEOUT_S = 90
# The webhook's certificate is signed by its own CA (in its Secret): the health check does not verify it.
UNVERIFIED = ssl._create_unverified_context()


def buildah(*args: str) -> str:
    return subprocess.run(["buildah", *args], check=True, capture_output=True, text=True).stdout.strip()


def image(service: str) -> str:
    return f"localhost/aloft-{service}:{TAG}"


@pytest.fixture(params=SERVICES)
def service(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def container(service: str) -> Iterator[str]:
    name = buildah("from", "--pull-never", image(service))
    try:
        yield name
    finally:
        subprocess.run(["buildah", "rm", name], capture_output=True)


def test_image_metadata(service: str) -> None:
    info = json.loads(buildah("inspect", "--type", "image", image(service)))
    config = info["Docker"]["config"]
    assert config["User"] == "65532:65532"
    assert config["Healthcheck"]["Test"][0] == "CMD"
    assert set(config["Volumes"]) == {"/var/lib/aloft", "/tmp"}
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == f"aloft-{service}"
    assert labels["org.opencontainers.image.version"]
    assert config["Entrypoint"] == ["/opt/aloft/bin/aloft-service"] and config["Cmd"] == ["serve"]


# Every module of the service's package imports in its image: a dependency used but not declared in the package's
# pyproject.toml is missing from the image (a start-up only imports what the default config needs). Migrations run
# only inside Alembic, which provides their context.
IMPORT_ALL = """
import importlib, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    if ".migrations" not in module.name:
        importlib.import_module(module.name)
"""


def test_every_module_of_the_service_imports(service: str, container: str) -> None:
    command = ["/opt/aloft/bin/python", "-c", IMPORT_ALL, f"aloft_{service}"]
    result = subprocess.run(
        ["buildah", "run", "--isolation", "chroot", container, "--", *command], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]


# Every module the service's sources import, at the top or inside a function, resolves in its image: the cloud
# event publishers (confluent-kafka, google-cloud-pubsub, boto3), the Kubernetes client and the login flow import
# their clients only when configured, which importing every module does not reach. Not required: imports guarded
# by ``except ImportError``, under ``if TYPE_CHECKING``, or that the same file probes with ``find_spec("...")``
# (admin serves the console only when aloft-console is installed beside it).
FIND_EVERY_IMPORT = """
import ast, importlib.util, pathlib, sys

def guarded(node):
    if isinstance(node, ast.Try):
        types = [h.type for h in node.handlers]
        names = [n for t in types if t is not None for n in (t.elts if isinstance(t, ast.Tuple) else [t])]
        return None in types or any(getattr(n, "id", "") in ("ImportError", "ModuleNotFoundError") for n in names)
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)

def imported(tree):
    skip = {id(n) for g in ast.walk(tree) if guarded(g) for stmt in g.body for n in ast.walk(stmt)}
    probed = {n.args[0].value for n in ast.walk(tree) if isinstance(n, ast.Call) and n.args
              and isinstance(n.args[0], ast.Constant) and ast.unparse(n.func).endswith("find_spec")}
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        yield from (n for n in names if id(node) not in skip and n.split(".")[0] not in probed)

# None, or what is missing: finding a submodule imports its parents, which may need something absent.
def unresolved(name):
    try:
        return None if importlib.util.find_spec(name) else name
    except ModuleNotFoundError as error:
        return error.name or name
    except Exception as error:
        return f"{name}: {error!r}"

missing = set()
for root in importlib.util.find_spec(sys.argv[1]).submodule_search_locations:
    for path in pathlib.Path(root).rglob("*.py"):
        if "migrations" not in path.parts:
            for name in imported(ast.parse(path.read_text(), str(path))):
                if (absent := unresolved(name)) is not None:
                    missing.add(f"{absent} (imported by {path.relative_to(root)})")
if missing:
    sys.exit("\\n".join(sorted(missing)))
"""


# Clients a service loads only when configured, imported for real (a wheel's native library must load too): admin's
# cloud events and notifications publish through Kafka, Google Pub/Sub and AWS SNS/SQS.
LAZY_CLIENTS = {"admin": ["confluent_kafka", "google.cloud.pubsub_v1", "boto3", "kubernetes.dynamic"]}


def test_every_import_of_the_service_resolves(service: str, container: str) -> None:
    command = ["/opt/aloft/bin/python", "-c", FIND_EVERY_IMPORT, f"aloft_{service}"]
    result = subprocess.run(
        ["buildah", "run", "--isolation", "chroot", container, "--", *command], capture_output=True, text=True
    )
    assert result.returncode == 0, "not installed in the image:\n" + result.stdout + result.stderr[-3000:]
    clients = LAZY_CLIENTS.get(service, [])
    load = ["/opt/aloft/bin/python", "-c", "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]"]
    loaded = subprocess.run(
        ["buildah", "run", "--isolation", "chroot", container, "--", *load, *clients], capture_output=True, text=True
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]


def test_service_starts_as_non_root_and_is_healthy(service: str, container: str, tmp_path: Path) -> None:
    ports = {key: free_port() for key in PORT_KEYS[service]}
    scheme = "https" if service == "webhook" else "http"
    health_url = f"{scheme}://127.0.0.1:{next(iter(ports.values()))}/healthcheck"
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    section: dict[str, Any] = {"host": "127.0.0.1", **ports}
    run = [
        "buildah", "run", "--isolation", "chroot", "--user", "65532:65532",
        "--volume", f"{config_dir}:/etc/aloft:ro", "--env", f"ALOFT_HEALTH_URL={health_url}", container, "--",
    ]  # fmt: skip
    with ExitStack() as stack:
        if service == "webhook":
            kube = stack.enter_context(KubeDouble(tmp_path / "kube"))
            kube.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "aloft"}})
            shutil.copy(kube.kubeconfig, config_dir / "kubeconfig")
            section |= {"kubeConfig": "/etc/aloft/kubeconfig", "namespace": "aloft", "certDir": "/tmp/certs"}
        config = {"stack": {"dataDir": "/var/lib/aloft"}, service: section}
        (config_dir / "aloft.yaml").write_text(yaml.safe_dump(config))
        for path in config_dir.iterdir():
            path.chmod(0o644)
        config_dir.chmod(0o755)
        if service == "webhook":
            init = subprocess.run([*run, "/opt/aloft/bin/aloft-service", "init-certs"], capture_output=True, text=True)
            assert init.returncode == 0, init.stdout + init.stderr
            assert kube.get("secrets", "aloft", "aloft-pod-webhook") is not None
        check_serving(service, run, health_url)
        if service == "webhook":
            registered = kube.get(
                "mutatingwebhookconfigurations", "", "aloft-pod-webhook", "admissionregistration.k8s.io"
            )
            assert registered is not None


def check_serving(service: str, run: list[str], health_url: str) -> None:
    process = subprocess.Popen(
        [*run, "/opt/aloft/bin/aloft-service", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_healthy(health_url, process)
        if service == "console":
            check_console_assets(health_url.removesuffix("/healthcheck"))
        # The image's HEALTHCHECK command, run inside the container, agrees.
        healthcheck = json.loads(buildah("inspect", "--type", "image", image(service)))["Docker"]["config"]
        probe = subprocess.run([*run, *healthcheck["Healthcheck"]["Test"][1:]], capture_output=True, text=True)
        assert probe.returncode == 0, probe.stderr
        # Nothing outside the declared volumes is writable by the service's user: touch works where it may write
        # (/tmp) and leaves nothing under /opt/aloft. Exit codes only: while another `buildah run` is active in the
        # same container, buildah may hand a later run's stderr to the first one, so its wording is not checked.
        assert subprocess.run([*run, "touch", "/tmp/probe"], capture_output=True).returncode == 0
        assert subprocess.run([*run, "touch", "/opt/aloft/probe"], capture_output=True).returncode != 0
        assert subprocess.run([*run, "test", "-e", "/opt/aloft/probe"], capture_output=True).returncode != 0
    finally:
        stop(process)


def check_console_assets(origin: str) -> None:
    """The console image carries the built front end (git-ignored, built by `make setup`): an execution page
    answers index.html with the settings injected, and the assets it names are served from the image."""
    with urllib.request.urlopen(f"{origin}/console/projects/p/domains/d/executions/e", timeout=5) as response:
        assert response.status == 200
        index = response.read().decode()
    assert "window.ALOFT_CONSOLE" in index
    assets = re.findall(r'(?:src|href)="(/console/assets/[^"]+)"', index)
    assert any(asset.endswith(".js") for asset in assets), index
    for asset in assets:
        with urllib.request.urlopen(origin + asset, timeout=5) as response:
            assert response.status == 200 and len(response.read()) > 0, asset


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the `buildah run` session (the service included), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> bytes:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            pytest.fail(f"the service exited with {process.returncode}:\n{output[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2, context=UNVERIFIED) as response:
                if response.status == 200:
                    return bytes(response.read())
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {START_TIMEOUT_S}s")
