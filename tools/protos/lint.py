"""Lint protos/: every file is in a versioned package ``aloft.<area>.v<N>`` whose directory matches the package,
and every service and rpc carries a leading comment (its documentation).

The files are parsed by protoc itself (with source info, against flyteidl's own descriptors), so comments are
checked exactly as protoc attaches them.

Usage: python tools/protos/lint.py [--root DIR]   (exit 1 and one line per problem when something is wrong)
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2
from grpc_tools import protoc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build import PROTO_ROOT, dependency_descriptor_set

PACKAGE = re.compile(r"^aloft\.[a-z][a-z0-9_]*\.v[1-9][0-9]*(alpha[0-9]*|beta[0-9]*)?$")
SERVICE_FIELD, METHOD_FIELD = 6, 2  # FileDescriptorProto.service, ServiceDescriptorProto.method


def parse(root: Path) -> list[descriptor_pb2.FileDescriptorProto]:
    protos = sorted(str(p.relative_to(root)) for p in root.rglob("*.proto"))
    if not protos:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        deps, out = Path(tmp) / "deps.pb", Path(tmp) / "out.pb"
        deps.write_bytes(dependency_descriptor_set())
        args = ["protoc", f"--proto_path={root}", f"--descriptor_set_in={deps}", f"--descriptor_set_out={out}"]
        if protoc.main([*args, "--include_source_info", *protos]) != 0:
            raise SystemExit("protoc could not parse protos/")
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    return [f for f in files if f.name in protos]


def _comments(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    return {tuple(loc.path): loc.leading_comments.strip() for loc in file.source_code_info.location}


def lint_file(file: descriptor_pb2.FileDescriptorProto) -> list[str]:
    problems = []
    if not PACKAGE.match(file.package):
        problems.append(f"{file.name}: package {file.package or '(none)'!r} is not aloft.<area>.v<N>")
    elif Path(file.name).parent.as_posix() != file.package.replace(".", "/"):
        problems.append(f"{file.name}: file must live in {file.package.replace('.', '/')}/ to match its package")
    comments = _comments(file)
    for s, service in enumerate(file.service):
        if not comments.get((SERVICE_FIELD, s)):
            problems.append(f"{file.name}: service {service.name} has no leading comment")
        for m, method in enumerate(service.method):
            if not comments.get((SERVICE_FIELD, s, METHOD_FIELD, m)):
                problems.append(f"{file.name}: rpc {service.name}.{method.name} has no leading comment")
    return problems


def lint(root: Path = PROTO_ROOT) -> list[str]:
    return [problem for file in parse(root) for problem in lint_file(file)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=PROTO_ROOT, help="proto root to lint (default: protos/)")
    problems = lint(parser.parse_args().root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("protos: lint ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
