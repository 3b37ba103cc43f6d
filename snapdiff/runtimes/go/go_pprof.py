"""Go goroutine profiles in pprof's protobuf format: ``/debug/pprof/goroutine`` (no ``debug``
parameter, or ``debug=0``) and, on Go 1.26+, ``/debug/pprof/goroutineleak?debug=0``.

Go writes them gzipped; :mod:`snapdiff.inputs` undoes the gzip, so this reader sees the
serialized ``perftools.profiles.Profile`` message (``pprof/profile.proto``), which it decodes
with the ``protobuf`` library and the module protoc generated from the published proto. What
Go puts in it (``printCountProfile`` and ``profileBuilder`` in ``runtime/pprof``; the same in
the Go 1.19 and 1.27 profiles under ``samples/go/dumps``)::

    period_type, period      ("goroutine", "count"), 1      ("goroutineleak", "count") for the
    sample_type              [("goroutine", "count")]        leak profile: leaked ones only
    sample                   one per distinct (stack, labels): value[0] goroutines share it;
                             location_id leaf first; label: pprof labels, key and str (in
                             map order, so in any order, on older Go versions)
    location, function       interleaved with the samples, as the builder meets them; a
                             location with several lines is a call with functions inlined
                             into it, innermost first
    time_nanos, mapping      when the profile was taken; the binary and its libraries
    string_table             last: every name above is an index into it

Top-level fields are read as a plain walk over tags and lengths (:func:`_walk`), which is also
how :func:`sniff` recognises the format: a run of well-formed fields with the wire types
profile.proto gives their numbers, holding a ``sample_type`` that is a well-formed ValueType.
Text and JSON fail at their first bytes (``g`` is field 12 with wire type 7, ``{`` and ``[``
are group starts). Any pprof profile is recognised, so that a heap or CPU profile gets an
error that says what it is, rather than "not a dump".

Quirks:

- No goroutine ids, states, wait times or creation sites: the runtime records only the stack
  and the labels (Go 1.27 adds no ``created by`` pseudo-frame here, unlike its text dumps).
  Tasks group by entry function, survivors cannot be told, and the snapshot says so.
- A sample can have no locations: a goroutine whose only frame is ``runtime.goexit``, which
  the profile builder leaves out (``debug=1`` prints the same goroutine as a record with one
  address and no frame line). It is kept, flagged ``no-stack``.
- A location without lines (a binary without symbols) becomes a frame named by its address,
  as in ``debug=1`` profiles.
- Numeric labels (not made by Go's goroutine profile) are kept as text, with their unit.

A profile cut short (or followed by other bytes) is read up to its last whole field, with a
warning, when that still holds its string table; Go writes the string table last, so a cut
Go profile usually names nothing and is an error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import chain
from typing import Any

from snapdiff.errors import InputError
from snapdiff.model import (
    FLAG_LEAKED,
    FLAG_NO_STACK,
    FLAG_PARTIAL,
    GOROUTINE,
    Frame,
    Snapshot,
    SourceInfo,
    Task,
    new_task,
)

NAME = "go-goroutine-pprof"
DESCRIPTION = (
    "Go goroutine profile in protobuf: pprof goroutine?debug=0, goroutineleak?debug=0 "
    "(counts per stack, no ids)"
)

BINARY = True  # a protobuf: never unwrapped

# Profile's fields by number (profile.proto) and the wire type each is written with.
_WIRE_VARINT, _WIRE_I64, _WIRE_LEN, _WIRE_I32 = 0, 1, 2, 5
_LEN_FIELDS = frozenset({1, 2, 3, 4, 5, 6, 11})  # messages and strings
_VARINT_FIELDS = frozenset({7, 8, 9, 10, 12, 14})
_COMMENT = 13  # repeated int64: packed (LEN) or not (VARINT)
_SAMPLE_TYPE = 1
_PERIOD_TYPE = 11
_PROFILES = ("goroutine", "goroutineleak")
# What Go's other profiles are called, by their period type when that is not the name.
_PERIOD_NAMES = {"space": "heap", "contentions": "block or mutex"}
_SNIFF_WINDOW = 64 * 1024  # the fields of a Go profile's first samples fit in far less


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it; (-1, pos) when cut, (-2, pos) when
    longer than ten bytes."""
    result = shift = 0
    end = len(buf)
    start = pos
    while pos < end:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if pos - start >= 10:
            return -2, pos
    return -1, start


def _walk(buf: bytes, limit: int | None = None) -> tuple[list[tuple[int, int, int]], int, str]:
    """The top-level fields of a serialized Profile: (number, start of value, end of value).

    Also the end of the last whole field and why the walk stopped there: ``""`` (the end of
    ``buf``), ``"cut"`` (a field runs past the end) or ``"bad"`` (bytes that are not a field
    of a Profile). Stops after ``limit`` bytes when given.
    """
    fields: list[tuple[int, int, int]] = []
    pos, size = 0, len(buf)
    stop = size if limit is None else min(size, limit)
    while pos < stop:
        key, after = _varint(buf, pos)
        if key < 0:
            return fields, pos, "cut" if key == -1 else "bad"
        number, wire = key >> 3, key & 7
        if number == 0:
            return fields, pos, "bad"
        if number in _LEN_FIELDS:
            ok = wire == _WIRE_LEN
        elif number in _VARINT_FIELDS:
            ok = wire == _WIRE_VARINT
        elif number == _COMMENT:
            ok = wire in (_WIRE_VARINT, _WIRE_LEN)
        else:  # a field added after this proto: kept by protobuf as unknown
            ok = wire in (_WIRE_VARINT, _WIRE_I64, _WIRE_LEN, _WIRE_I32)
        if not ok:
            return fields, pos, "bad"
        if wire == _WIRE_VARINT:
            value, end = _varint(buf, after)
            if value < 0:
                return fields, pos, "cut" if value == -1 else "bad"
            start = after
        elif wire == _WIRE_LEN:
            length, start = _varint(buf, after)
            if length < 0:
                return fields, pos, "cut" if length == -1 else "bad"
            end = start + length
        else:
            start = after
            end = after + (8 if wire == _WIRE_I64 else 4)
        if end > size:
            return fields, pos, "cut"
        fields.append((number, start, end))
        pos = end
    return fields, pos, ""


def _is_value_type(buf: bytes) -> bool:
    """A ValueType message: fields 1 and 2 (type and unit), varints, nothing else."""
    pos, size = 0, len(buf)
    while pos < size:
        key, pos = _varint(buf, pos)
        if key not in (1 << 3, 2 << 3):
            return False
        value, pos = _varint(buf, pos)
        if value < 0:
            return False
    return True


def sniff(head: bytes) -> bool:
    fields, _, _ = _walk(head, _SNIFF_WINDOW)
    value_types = [
        head[start:end] for number, start, end in fields if number in (_SAMPLE_TYPE, _PERIOD_TYPE)
    ]
    return (
        any(number == _SAMPLE_TYPE for number, _, _ in fields)
        and len({number for number, _, _ in fields}) >= 2
        and all(map(_is_value_type, value_types))
    )


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    # Imported here, so that other formats and ``snapdiff --version`` do not load protobuf.
    from google.protobuf.message import DecodeError

    from snapdiff.runtimes.go.pprof import profile_pb2

    warnings: list[str] = []
    truncated = False
    stop = ""
    profile: Any
    try:
        profile = profile_pb2.Profile.FromString(data)
    except DecodeError as exc:
        # Find where it goes wrong, and read the whole fields before that.
        _, end, stop = _walk(data)
        if not stop:  # the damage is inside a field
            raise InputError(f"{origin}: a damaged pprof profile: {exc}") from None
        truncated = True
        what = "is cut short" if stop == "cut" else "has bytes that are not part of a profile"
        warnings.append(
            f"{origin}: the profile {what} at byte {end} of {len(data)}: read what came before"
        )
        try:
            profile = profile_pb2.Profile.FromString(data[:end])
        except DecodeError as exc:
            raise InputError(f"{origin}: a damaged pprof profile: {exc}") from None
    if not profile.string_table:
        reason = "no string table"
        if stop:
            reason += " before the point where it stops (Go writes the string table last)"
        raise InputError(f"{origin}: a pprof profile with {reason}: nothing in it can be named")

    strings: list[str] = list(profile.string_table)
    size = len(strings)
    beyond = 0  # indices past the end of the string table: it was cut

    def text(index: int) -> str:
        nonlocal beyond
        if 0 <= index < size:
            return strings[index]
        beyond += 1
        return ""

    kinds = [(text(v.type), text(v.unit)) for v in profile.sample_type]
    column = next(
        (i for i, (kind, unit) in enumerate(kinds) if kind in _PROFILES and unit == "count"), None
    )
    if column is None:
        shown = ", ".join(f"{kind or '?'}/{unit or '?'}" for kind, unit in kinds) or "none"
        period = text(profile.period_type.type) if profile.HasField("period_type") else ""
        period = _PERIOD_NAMES.get(period, period)
        what = f"a {period} profile" if period else "a profile"
        raise InputError(
            f"{origin}: {what} in pprof format (sample types: {shown}), not a goroutine profile: "
            "snapdiff reads goroutine profiles (/debug/pprof/goroutine or goroutineleak)"
        )
    kind = kinds[column][0]

    functions = {f.id: (text(f.name), text(f.filename)) for f in profile.function}
    interned: dict[tuple[str, str, int], Frame] = {}
    locations: dict[int, tuple[Frame, ...]] = {}
    missing_names = 0
    for loc in profile.location:
        frames: list[Frame] = []
        for line in loc.line:
            name, file = functions.get(line.function_id, ("", ""))
            if not name:
                missing_names += 1
                name = f"{loc.address:#x}" if loc.address else "?"
            key = (name, file, max(int(line.line), 0))
            frame = interned.get(key)
            if frame is None:
                frame = interned[key] = Frame(*key)
            frames.append(frame)
        if not frames:  # no symbols: the address is the name
            key = (f"{loc.address:#x}", "", 0)
            frame = interned.get(key)
            if frame is None:
                frame = interned[key] = Frame(*key)
            frames.append(frame)
        locations[loc.id] = tuple(frames)

    leaked: tuple[str, ...] = (FLAG_LEAKED,) if kind == "goroutineleak" else ()
    tasks: list[Task] = []
    unknown_locations = 0
    for sample in profile.sample:
        values = sample.value
        count = int(values[column]) if column < len(values) else 0
        if count <= 0:
            continue
        ids = sample.location_id
        flags = leaked
        try:
            stack = tuple(chain.from_iterable([locations[i] for i in ids]))
        except KeyError:
            known = [locations[i] for i in ids if i in locations]
            unknown_locations += len(ids) - len(known)
            stack = tuple(chain.from_iterable(known))
            flags += (FLAG_PARTIAL,)
        if not ids:  # only runtime.goexit, which the builder leaves out: normal, no warning
            flags += (FLAG_NO_STACK,)
        tasks.append(
            new_task(
                GOROUTINE, stack, None, "", "", None, None, None,
                _labels(sample.label, text), flags, count,
            )
        )  # fmt: skip

    if beyond:
        truncated = True
        warnings.append(
            f"{origin}: {beyond} names point past the end of the string table "
            f"({size} strings): the profile may have been cut"
        )
    if unknown_locations:
        warnings.append(
            f"{origin}: {unknown_locations} stack entries point at locations the profile "
            "does not hold: those stacks are incomplete"
        )
    if missing_names:
        warnings.append(f"{origin}: {missing_names} frames have no function name")
    if not profile.sample:
        warnings.append(f"{origin}: the {kind} profile has no samples")
    warnings.append(
        f"{origin}: protobuf goroutine profiles have no goroutine ids, states or creation "
        "sites: grouped by entry function, survivors unknown"
    )
    captured_at = None
    if profile.time_nanos > 0:
        when = datetime.fromtimestamp(profile.time_nanos / 1e9, UTC)
        captured_at = when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    detail = f"{kind} profile, aggregated, protobuf"
    if kind == "goroutineleak":
        detail += ": leaked goroutines only"
    return Snapshot(
        source=SourceInfo(
            format=NAME, origin=origin, captured_at=captured_at, producer="go", detail=detail
        ),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
    )


def _labels(labels: Any, text: Any) -> tuple[tuple[str, str], ...]:
    """pprof labels as (key, value) sorted by key, as ``debug=1`` prints them (older Go versions
    write them in map order); a numeric label's value as its number and unit."""
    out: list[tuple[str, str]] = []
    for label in labels:
        if label.str:
            value = text(label.str)
        elif label.num or label.num_unit:
            unit = text(label.num_unit)
            value = f"{label.num} {unit}" if unit else str(label.num)
        else:
            value = ""
        out.append((text(label.key), value))
    return tuple(sorted(out))
