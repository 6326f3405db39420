"""Compile protos/ (aloft.<area>.v1) into libs/aloft-protos with grpcio-tools.

flyteidl's PyPI package ships generated code, not .proto files, so the imports our protos need
(``flyteidl/core/*.proto``, ``google/protobuf/*.proto``) are given to protoc as a descriptor set built from the
pinned package's own descriptors: what we compile against is exactly what we run with.

Usage: python tools/protos/build.py [--check]   (--check: fail if the generated code is stale)
"""

from __future__ import annotations

import argparse
import filecmp
import importlib
import pkgutil
import shutil
import sys
import tempfile
from pathlib import Path

import flyteidl
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "protos"
OUT_ROOT = ROOT / "libs" / "aloft-protos" / "src"
GENERATED = OUT_ROOT / "aloft"


def _load_flyteidl() -> None:
    for module in pkgutil.walk_packages(flyteidl.__path__, "flyteidl."):
        if module.name.endswith("_pb2"):
            importlib.import_module(module.name)


def dependency_descriptor_set() -> bytes:
    """A FileDescriptorSet of every flyteidl file and its transitive imports, in dependency order."""
    _load_flyteidl()
    pool = descriptor_pool.Default()
    out = descriptor_pb2.FileDescriptorSet()
    seen: set[str] = set()

    def add(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        file = pool.FindFileByName(name)
        for dep in file.dependencies:
            add(dep.name)
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        out.file.append(proto)

    for module in pkgutil.walk_packages(flyteidl.__path__, "flyteidl."):
        if module.name.endswith("_pb2"):
            add(importlib.import_module(module.name).DESCRIPTOR.name)
    return out.SerializeToString()


def compile_into(target: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        deps = Path(tmp) / "deps.pb"
        deps.write_bytes(dependency_descriptor_set())
        args = [
            "protoc",
            f"--proto_path={PROTO_ROOT}",
            f"--descriptor_set_in={deps}",
            f"--python_out={target}",
            f"--pyi_out={target}",
            f"--grpc_python_out={target}",
            *protos,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
    for directory in [target / "aloft", *(p for p in (target / "aloft").rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()
    (target / "aloft" / "py.typed").touch()


def _same_tree(a: Path, b: Path) -> list[str]:
    diffs: list[str] = []
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    diffs += [f"missing: {p}" for p in sorted(files_a - files_b)]
    diffs += [f"extra: {p}" for p in sorted(files_b - files_a)]
    diffs += [f"differs: {p}" for p in sorted(files_a & files_b) if not filecmp.cmp(a / p, b / p, shallow=False)]
    return diffs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="fail when the committed generated code is stale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        compile_into(fresh)
        if args.check:
            diffs = _same_tree(fresh / "aloft", GENERATED)
            if diffs:
                print("generated code is stale; run 'make protos':\n  " + "\n  ".join(diffs), file=sys.stderr)
                return 1
            print("generated code is up to date")
            return 0
        shutil.rmtree(GENERATED, ignore_errors=True)
        shutil.copytree(fresh / "aloft", GENERATED)
    print(f"generated {GENERATED.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
