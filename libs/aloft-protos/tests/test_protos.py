"""The protos pipeline: generated code matches protos/; protos/ passes buf lint (versioned, documented) and has no
breaking change against the released API (protos/released.json). buf is the real binary from npm (make setup)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "tools" / "protos" / "build.py"
BUF = ROOT / "tools" / "protos" / "buf.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, check=False)


def test_generated_code_is_up_to_date_with_protos() -> None:
    result = run(str(BUILD), "--check")
    assert result.returncode == 0, f"run 'make protos' and commit the result:\n{result.stderr}"


def test_protos_pass_the_lint() -> None:
    result = run(str(BUF), "lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_protos_have_no_breaking_change_against_the_released_api() -> None:
    result = run(str(BUF), "breaking")
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_package_imports_with_its_grpc_stubs() -> None:
    from aloft.dataplane.v1 import dataplane_pb2, dataplane_pb2_grpc

    assert dataplane_pb2.DESCRIPTOR.package == "aloft.dataplane.v1"
    assert hasattr(dataplane_pb2_grpc, "DataPlaneServiceStub")


BAD_PROTO = """syntax = "proto3";
package %s;

service Things {
  rpc Get(Req) returns (Req);
  // Documented.
  rpc Put(Req) returns (Req);
}

message Req {}
"""


def test_lint_reports_unversioned_packages_misplaced_files_and_undocumented_rpcs(tmp_path: Path) -> None:
    (tmp_path / "aloft" / "things").mkdir(parents=True)
    (tmp_path / "aloft" / "things" / "things.proto").write_text(BAD_PROTO % "aloft.things")
    (tmp_path / "aloft" / "other" / "v1").mkdir(parents=True)
    (tmp_path / "aloft" / "other" / "v1" / "other.proto").write_text(BAD_PROTO % "aloft.wrong.v1")
    (tmp_path / "elsewhere" / "v1").mkdir(parents=True)
    (tmp_path / "elsewhere" / "v1" / "stray.proto").write_text(GOOD_PROTO % "elsewhere.v1")
    result = run(str(BUF), "lint", "--root", str(tmp_path))
    assert result.returncode != 0
    problems = (result.stdout + result.stderr).strip().splitlines()
    assert any(
        p.startswith('aloft/things/things.proto:2:1:Package name "aloft.things" should be suffixed') for p in problems
    )
    assert any(
        p.startswith('aloft/other/v1/other.proto:2:1:Files with package "aloft.wrong.v1" must be') for p in problems
    )
    assert (
        'aloft/things/things.proto:4:1:Service "Things" should have a non-empty comment for documentation.' in problems
    )
    assert 'aloft/things/things.proto:5:3:RPC "Get" should have a non-empty comment for documentation.' in problems
    assert not any('RPC "Put" should have a non-empty comment' in p for p in problems)
    assert "elsewhere/v1/stray.proto: our APIs live under aloft/<area>/v<N>/" in problems


GOOD_PROTO = """syntax = "proto3";
package %s;

// Things are stored.
service ThingsService {
  // GetThing returns one thing.
  rpc GetThing(GetThingRequest) returns (GetThingResponse);
}

message GetThingRequest {
  string id = 1;
  string name = 2;
}

message GetThingResponse {}
"""


def test_breaking_check_rejects_a_removed_field_and_accepts_a_new_package(tmp_path: Path) -> None:
    released, current = tmp_path / "released", tmp_path / "current"
    for root in (released, current):
        (root / "aloft" / "things" / "v1").mkdir(parents=True)
    (released / "aloft" / "things" / "v1" / "things.proto").write_text(GOOD_PROTO % "aloft.things.v1")
    snapshot = tmp_path / "released.json"
    assert run(str(BUF), "release", "--root", str(released), "--against", str(snapshot)).returncode == 0

    (current / "aloft" / "things" / "v1" / "things.proto").write_text(GOOD_PROTO % "aloft.things.v1")
    (current / "aloft" / "events" / "v1").mkdir(parents=True)
    (current / "aloft" / "events" / "v1" / "events.proto").write_text(GOOD_PROTO % "aloft.events.v1")
    added = run(str(BUF), "breaking", "--root", str(current), "--against", str(snapshot))
    assert added.returncode == 0, added.stdout + added.stderr

    without_name = (GOOD_PROTO % "aloft.things.v1").replace("  string name = 2;\n", "")
    (current / "aloft" / "things" / "v1" / "things.proto").write_text(without_name)
    removed = run(str(BUF), "breaking", "--root", str(current), "--against", str(snapshot))
    assert removed.returncode != 0
    assert 'Previously present field "2" with name "name" on message "GetThingRequest" was deleted.' in removed.stdout


def test_stale_generated_code_is_detected(tmp_path: Path) -> None:
    """--check compares a fresh compile with the committed tree; a changed proto must make it fail."""
    sys.path.insert(0, str(BUILD.parent))
    try:
        import build
    finally:
        sys.path.remove(str(BUILD.parent))
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    build.compile_into(fresh)
    assert build._same_tree(fresh / "aloft", build.GENERATED) == []
    stale = sorted((fresh / "aloft").rglob("*_pb2.py"))[0]
    stale.write_text(stale.read_text() + "\n# edited\n")
    expected = f"differs: {stale.relative_to(fresh / 'aloft')}"
    assert build._same_tree(fresh / "aloft", build.GENERATED) == [expected]
