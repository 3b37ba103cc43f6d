"""pprof's profile.proto (github.com/google/pprof) and the module protoc generates from it.

``profile_pb2`` is generated code: see ``regen.sh`` here for the exact command and versions.
It imports ``google.protobuf``, so only the pprof reader imports it, and only when it parses.
"""
