"""The protos pipeline: generated code matches protos/, and protos/ passes the lint (versioned, documented)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "tools" / "protos" / "build.py"
LINT = ROOT / "tools" / "protos" / "lint.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, check=False)


def test_generated_code_is_up_to_date_with_protos() -> None:
    result = run(str(BUILD), "--check")
    assert result.returncode == 0, f"run 'make protos' and commit the result:\n{result.stderr}"


def test_protos_pass_the_lint() -> None:
    result = run(str(LINT))
    assert result.returncode == 0, result.stderr


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
    result = run(str(LINT), "--root", str(tmp_path))
    assert result.returncode == 1
    problems = result.stderr.strip().splitlines()
    assert "aloft/things/things.proto: package 'aloft.things' is not aloft.<area>.v<N>" in problems
    assert "aloft/other/v1/other.proto: file must live in aloft/wrong/v1/ to match its package" in problems
    assert "aloft/things/things.proto: service Things has no leading comment" in problems
    assert "aloft/things/things.proto: rpc Things.Get has no leading comment" in problems
    assert not any("Things.Put" in p for p in problems)


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
