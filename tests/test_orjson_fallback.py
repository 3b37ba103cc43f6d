"""The standard-library stand-in for orjson that snapdiff.pyz uses where none of its orjson
builds loads: the same snapshots read, the same reports written, the same errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from snapdiff import _orjson_fallback as fallback
from snapdiff import inputs, store
from snapdiff.diff import diff
from snapdiff.fleet import fleet
from snapdiff.render import fleet_json, json
from snapdiff.trend import trend

ROOT = Path(__file__).resolve().parent.parent
SERIES = sorted((ROOT / "samples" / "series").glob("*/*.json.gz"))
DUMPS = ROOT / "samples" / "python" / "dumps"


@pytest.mark.parametrize("path", SERIES[::5], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_snapshot_files_read_the_same(path: Path) -> None:
    data = gzip.decompress(path.read_bytes())
    assert fallback.loads(data) == orjson.loads(data)
    snap = store.loads(data, str(path))
    assert fallback.loads(store.dumps(snap)) == orjson.loads(store.dumps(snap))


def test_reports_are_written_byte_for_byte_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    fleet_snaps = [inputs.load(str(p)) for p in SERIES if p.parent.name == "go-fleet"]
    series = [inputs.load(str(p)) for p in SERIES if p.parent.name == "go-leaky"]
    reports = [
        lambda: json.render_diff(diff(series[0], series[-1])),
        lambda: fleet_json.render_fleet(fleet(fleet_snaps, "trend")),
    ]
    fast = [r() for r in reports]
    fast_file = store.dumps(series[0])
    monkeypatch.setattr(json, "orjson", fallback)
    monkeypatch.setattr(fleet_json, "orjson", fallback)
    monkeypatch.setattr(store, "orjson", fallback)
    assert [r() for r in reports] == fast
    assert store.dumps(series[0]) == fast_file
    assert trend(series).groups  # the whole path runs on the stand-in


@pytest.mark.parametrize(
    "bad", [b"", b"{", b'{"a": NaN}', b"[1,]", b"\xff\xfe{}", b'{"a": "\xed\xa0\x80"}']
)
def test_bad_documents_raise_the_same_kind_of_error(bad: bytes) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(bad)
    with pytest.raises(fallback.JSONDecodeError) as caught:
        fallback.loads(bad)
    assert isinstance(caught.value, ValueError)


def test_dumps_as_orjson_does() -> None:
    value = {"é": [1, 2.5, None, True], "t": ("a", "b"), "nan": float("nan")}
    assert fallback.dumps(value) == orjson.dumps(value)
    indented = fallback.dumps(value, option=fallback.OPT_INDENT_2)
    assert indented == orjson.dumps(value, option=orjson.OPT_INDENT_2)
