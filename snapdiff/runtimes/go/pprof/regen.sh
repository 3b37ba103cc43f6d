#!/usr/bin/env bash
# Regenerate profile_pb2.py from profile.proto.
#
# profile.proto is github.com/google/pprof/proto/profile.proto as published at
# commit 963a80db3d677353229bc3e7655d11709e9bcaaf (Apache License 2.0, header
# kept). Only the generated profile_pb2.py is imported at run time.
#
# The module is generated with the protoc bundled in grpcio-tools 1.50.0
# (libprotoc 3.21.6). Code from that protoc has no runtime version check, and
# it was checked to import and round-trip a Profile with protobuf 4.21.1,
# 4.25.9, 5.29.5, 6.33.0 and 7.36.2, with both the upb and the pure-Python
# implementation (PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python): hence
# "protobuf>=4.21" in pyproject.toml. A newer protoc writes a module that
# refuses runtimes older than itself, so keep this version.
#
# The proto is compiled from the repository root so that it registers as
# "snapdiff/runtimes/go/pprof/profile.proto" in protobuf's default pool, a name no
# other package will use.
#
# Usage (from anywhere):   snapdiff/runtimes/go/pprof/regen.sh
# Needs a Python with grpcio-tools==1.50.0 installed; a throwaway venv will do:
#   python -m venv /tmp/protoc-env && /tmp/protoc-env/bin/pip install grpcio-tools==1.50.0
#   PYTHON=/tmp/protoc-env/bin/python snapdiff/runtimes/go/pprof/regen.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)"
python="${PYTHON:-python}"
want="libprotoc 3.21.6"
have="$("$python" -m grpc_tools.protoc --version)"
if [[ "$have" != "$want" ]]; then
    echo "error: $python has $have, want $want (grpcio-tools==1.50.0)" >&2
    exit 1
fi
cd "$root"
"$python" -m grpc_tools.protoc -I. --python_out=. snapdiff/runtimes/go/pprof/profile.proto
echo "wrote snapdiff/runtimes/go/pprof/profile_pb2.py"
