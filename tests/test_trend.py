"""The trend verdict on made-up series, the statistics, ordering, and the trend/watch CLI."""

from __future__ import annotations

import builtins
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snapdiff.cli import app
from snapdiff.cli import trend as cli_trend
from snapdiff.errors import UsageError
from snapdiff.inputs import load
from snapdiff.model import GOROUTINE, Frame, Snapshot, SourceInfo, Task
from snapdiff.render import trend_common
from snapdiff.trend import TrendEvidence, judge_trend, steadiness, theil_sen, trend
from tests.conftest import GO_DUMPS, SAMPLES

SERIES = SAMPLES / "series"
GO = SERIES / "go-leaky"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run(args: list[str]):
    return CliRunner().invoke(
        app, args, prog_name="snapdiff", terminal_width=100, env={"COLUMNS": "100"}
    )


# --- statistics -----------------------------------------------------------------------------


def test_theil_sen_ignores_one_wild_point():
    xs = [0.0, 1, 2, 3, 4, 5, 6]
    ys = [0.0, 10, 20, 300, 40, 50, 60]
    assert theil_sen(xs, ys) == pytest.approx(10)
    assert theil_sen([1.0, 1.0], [3.0, 5.0]) == 0.0


def test_steadiness_is_the_share_of_steps_not_going_down():
    assert steadiness([1, 2, 2, 3]) == 1.0
    assert steadiness([5, 3, 4, 2, 6]) == 0.5
    assert steadiness([7]) is None


def test_sparkline_scales_between_the_series_own_extremes():
    assert trend_common.sparkline((1, 2, 3, 4, 5, 6, 7, 8)) == "▁▂▃▄▅▆▇█"
    assert trend_common.sparkline((8, 8, 8)) == "▄▄▄"
    assert trend_common.sparkline((0, 0)) == "▁▁"
    assert len(trend_common.sparkline(tuple(range(100)), 24)) == 24


# --- the verdict on made-up evidence -------------------------------------------------------


def verdict(series, survivors=None, kept=None, leaked=0, slope=None):
    xs = [float(i) for i in range(len(series))]
    s = slope if slope is not None else theil_sen(xs, [float(c) for c in series])
    return judge_trend(TrendEvidence(tuple(series), s, survivors, kept, leaked, "Go"))


@pytest.mark.parametrize(
    ("series", "survivors", "kept", "expected", "suspect"),
    [
        ((10, 20, 30, 40, 50, 60), 10, 1.0, "leak", True),  # keeps accumulating, all stay
        ((0, 0, 5, 10, 15, 20), 0, 1.0, "leak", True),  # a leak that began mid-series
        ((6, 9, 15, 17, 21, 28), 0, 0.0, "churn", False),  # ends higher, nothing stays
        ((8, 8, 8, 8, 8, 8), 8, 1.0, "steady", False),  # a pool
        ((1, 1, 1, 1), 1, 1.0, "steady", False),  # a stuck but constant task
        ((0, 0, 40, 0, 0, 0), 0, 0.0, "burst", False),  # up and back down
        ((1, 1, 41, 1, 1, 1), 0, 0.0, "burst", False),
        ((4, 4, 4, 44, 44, 44), 4, 1.0, "step", False),  # one jump, then held
        ((10, 20, 30, 40, 50, 60), 2, 0.2, "turnover", False),  # most tasks end
        ((10, 30, 12, 35, 14, 40), 10, 1.0, "growing", False),  # long-lived but see-saw
        ((7, 11, 10, 17, 6, 6), 0, 0.0, "churn", False),  # noisy churn
        ((9, 7, 5), 5, 1.0, "shrinking", False),
        ((3, 2, 0), 0, None, "gone", False),
        ((0, 0, 2), 0, None, "new", False),
    ],
)
def test_verdict(series, survivors, kept, expected, suspect):
    v, s, _, reasons = verdict(series, survivors, kept)
    assert (v, s) == (expected, suspect), reasons


def test_without_ids_only_large_steady_growth_is_suspect_and_unconfirmed():
    v, s, confidence, reasons = verdict((10, 30, 50, 70, 90))
    assert (v, s, confidence) == ("growing", True, "low")
    assert "no task ids" in reasons[-1]
    assert verdict((10, 30, 20, 70, 60))[1] is False  # went down twice
    assert verdict((10, 11, 12, 13, 14))[1] is False  # too small


def test_go_leak_marks_make_a_suspect_without_ids():
    v, s, confidence, reasons = verdict((10, 12, 20, 22, 40), leaked=30)
    assert (v, s, confidence) == ("leak", True, "high")
    assert reasons[0] == "the Go runtime marked 30 as leaked"


# --- series of real snapshots ---------------------------------------------------------------


def snaps(folder: Path) -> list[Snapshot]:
    return [load(str(p)) for p in sorted(folder.glob("*.json.gz"))]


def test_snapshots_are_ordered_by_capture_time():
    ordered = snaps(GO)
    shuffled = [ordered[3], ordered[0], ordered[5], ordered[1], ordered[4], ordered[2]]
    a, b = trend(ordered), trend(shuffled)
    assert a.groups == b.groups
    assert a.offsets_seconds == b.offsets_seconds
    assert b.offsets_seconds is not None and b.offsets_seconds[-1] == pytest.approx(50, abs=1)


def test_raw_dumps_keep_the_given_order_and_rates_are_per_step():
    s = [replace(x, source=replace(x.source, captured_at=None)) for x in snaps(GO)]
    result = trend(s)
    assert result.offsets_seconds is None
    top = result.suspects[0]
    assert top.slope_per_minute is None and top.slope_per_step > 20
    timed = trend(s, every_seconds=10)
    assert timed.time_source == "--every"
    assert timed.suspects[0].slope_per_minute == pytest.approx(top.slope_per_step * 6)


def test_a_restart_in_the_series_stops_survivor_counting():
    go = [load(str(GO_DUMPS / "go1.27" / f"{t}.debug2.txt")) for t in ("t0", "t1")]
    result = trend([*snaps(GO)[:3], *go])
    assert not result.ids_comparable
    assert all(g.survivors is None for g in result.groups)
    assert any("restart" in w or "went down" in w for w in result.warnings)


def test_one_snapshot_is_not_a_trend():
    with pytest.raises(UsageError):
        trend(snaps(GO)[:1])


def _task(i: int, fn: str) -> Task:
    return Task(GOROUTINE, (Frame("main.f", "x.go", 1),), id=i, created_by=Frame(fn, "x.go", 9))


def test_series_without_capture_time_and_shared_time_say_so():
    src = SourceInfo("go-goroutine-text", "x", captured_at="2026-01-01T00:00:00Z")
    a = Snapshot(src, tuple(_task(i, "main.a") for i in range(1, 4)))
    b = Snapshot(src, tuple(_task(i, "main.a") for i in range(1, 6)))
    result = trend([a, b])
    assert result.offsets_seconds is None
    assert any("share a capture time" in w for w in result.warnings)
    assert any("steadiness needs three" in w for w in result.warnings)


# --- the CLI --------------------------------------------------------------------------------


def test_trend_folder_text_report():
    r = run(["trend", str(GO), "--color", "never"])
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert out.startswith("6 snapshots over 50s: ")
    assert "Suspect: main.fetchAll (leaky/fanout.go:33)" in out
    assert re.search(r"SUSPECT\s+main\.fetchAll\s+▁▂▄▅▇█", out)
    assert "times from capture times" in out
    assert "read 6 snapshots" in r.stderr


def test_trend_glob_json_has_the_diff_fields_and_the_series():
    r = run(["trend", str(GO / "*.json.gz"), "-f", "json", "-q"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["command"] == "trend" and len(doc["snapshots"]) == 6
    g = doc["groups"][0]
    assert g["site_function"] == "main.fetchAll"
    assert g["entry_function"] == "main.fetchOne"
    assert g["before"] == g["series"][0] and g["after"] == g["series"][-1]
    assert g["delta"] == g["after"] - g["before"]
    assert g["suspect"] is True and g["verdict"] == "leak"
    assert g["slope_per_minute"] > 100 and g["steadiness"] == 1.0
    assert g["survivors"] == g["before"]
    assert [x["suspect"] for x in doc["groups"]].count(True) == 1


def test_trend_markdown_has_the_series_table():
    r = run(["trend", str(SERIES / "go-leakprofile"), "-f", "markdown", "-q"])
    assert r.exit_code == 0, r.output
    md = r.stdout
    assert md.startswith("### snapdiff trend: 1 suspect site")
    assert "| Group | +0s | +10s | +20s | +30s | +40s | +50s |" in md
    assert "Go: leaked" in md
    row = next(line for line in md.splitlines() if line.startswith("| **SUSPECT**"))
    assert "`main.fetchAll`" in row


def test_trend_shows_gos_own_leak_marks_in_text():
    r = run(["trend", str(SERIES / "go-leakprofile"), "--color", "never", "-q"])
    assert "Go leaked" in r.stdout
    assert re.search(r"Go runtime: (\d+) of \1 marked \(leaked\)", r.stdout)


def test_gates_exit_5_only_when_a_suspect_crosses_the_line():
    assert run(["trend", str(GO), "-q", "--fail-on-growth", "100"]).exit_code == 5
    assert run(["trend", str(GO), "-q", "--fail-on-growth", "100000"]).exit_code == 0
    r = run(["trend", str(GO), "-q", "--fail-on-rate", "60"])
    assert r.exit_code == 5
    assert "grow by 60/min or more: main.fetchAll (+2" in r.stderr
    assert run(["trend", str(GO), "-q", "--fail-on-rate", "100000"]).exit_code == 0
    # churn that ends higher, a burst: no suspect, no failure
    assert run(["trend", str(SERIES / "py-noleak"), "-q", "--fail-on-growth", "1"]).exit_code == 0


def test_rate_gate_needs_times(tmp_path):
    for i, p in enumerate(sorted(GO_DUMPS.glob("go1.27/t[01].debug2.txt"))):
        shutil.copy(p, tmp_path / f"{i}.txt")
    r = run(["trend", str(tmp_path), "-q", "--fail-on-rate", "1"])
    assert r.exit_code == 2
    assert "--fail-on-rate needs times" in r.stderr
    r = run(["trend", str(tmp_path), "-q", "--fail-on-rate", "1", "--every", "70s"])
    assert r.exit_code == 5


def test_diff_fail_on_rate():
    t0, t1 = (str(GO_DUMPS / "go1.27" / f"{t}.debug2.txt") for t in ("t0", "t1"))
    assert run(["diff", t0, t1, "-q", "--elapsed", "70s", "--fail-on-rate", "100"]).exit_code == 5
    assert run(["diff", t0, t1, "-q", "--elapsed", "70s", "--fail-on-rate", "1e6"]).exit_code == 0
    r = run(["diff", t0, t1, "-q", "--fail-on-rate", "100"])
    assert r.exit_code == 2 and "--elapsed" in r.stderr


def test_trend_needs_two_snapshots_and_matching_globs(tmp_path):
    r = run(["trend", str(GO / "01.json.gz")])
    assert r.exit_code == 2 and "two or more" in r.stderr
    r = run(["trend", str(tmp_path / "*.txt")])
    assert r.exit_code == 2 and "no file matches" in r.stderr


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_plot(tmp_path, suffix):
    pytest.importorskip("matplotlib")
    out = tmp_path / f"trend.{suffix}"
    r = run(["trend", str(GO), "-q", "--plot", str(out)])
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == "png" else b"<svg" in data[:2000]


def test_plot_without_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    r = run(["trend", str(GO), "-q", "--plot", str(tmp_path / "t.png")])
    assert r.exit_code == 2
    assert "pip install matplotlib into snapdiff's environment" in r.stderr
    assert "pip install 'snapdiff" not in r.stderr  # PyPI's snapdiff is an unrelated project
    assert not (tmp_path / "t.png").exists()


def test_plot_needs_png_or_svg(tmp_path):
    r = run(["trend", str(GO), "-q", "--plot", str(tmp_path / "t.jpg")])
    assert r.exit_code == 2 and ".png or .svg" in r.stderr


class FakeCapturer:
    """Hands out the snapshots of a real series, one per capture."""

    def __init__(self, folder: Path) -> None:
        from snapdiff.capture.series import Target

        self.target = Target(url="http://127.0.0.1:6060")
        self.snaps = snaps(folder)

    def snapshots(self):
        return [(self.snaps.pop(0), None)]


class FakeClock:
    """time.monotonic and time.sleep of a clock that only moves when slept: a capture never
    overruns its slot, however loaded the machine running the tests is."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_watch_saves_every_snapshot_and_reports(tmp_path, monkeypatch):
    monkeypatch.setattr(cli_trend, "_capturer", lambda target, timeout: FakeCapturer(GO))
    clock = FakeClock()
    monkeypatch.setattr(cli_trend.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(cli_trend.time, "sleep", clock.sleep)
    r = run(
        [
            *("watch", "http://127.0.0.1:6060", "--every", "10s", "--count", "6"),
            *("--save", str(tmp_path / "w"), "--color", "never"),
        ]
    )
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "w").glob("*.json.gz"))) == 6
    assert "Suspect: main.fetchAll" in r.stdout
    assert "6 snapshots saved in" in r.stderr
    assert clock.now == 1050.0  # five waits of 10 s between six captures


def test_watch_stops_with_exit_5_when_a_gate_is_crossed(tmp_path, monkeypatch):
    monkeypatch.setattr(cli_trend, "_capturer", lambda target, timeout: FakeCapturer(GO))
    r = run(
        [
            *("watch", "127.0.0.1:6060", "--every", "0.01s", "--save", str(tmp_path)),
            *("--fail-on-growth", "60", "-q", "-f", "json"),
        ]
    )
    assert r.exit_code == 5, r.output
    doc = json.loads(r.stdout)
    assert len(doc["snapshots"]) < 6  # stopped as soon as the line was crossed
    assert "grew by 60 or more" in r.stderr
