"""The longer fuzz run: every target in turn until the time is up; prints inputs per target.

    python -m fuzz.run [--seconds 600] [--seed N] [--memory 2G] [--target NAME ...]
    python -m fuzz.run --engine atheris --target pyspy-text --seconds 300

Hypothesis (the default engine) mutates the seeds (fuzz/seeds.py) with fuzz/mutate.py; atheris,
when installed (``pip install atheris``), runs one target coverage-guided from the same seeds.
An input that breaks the contract (another exception, a message of more than one line, more than
``--per-input`` seconds, memory past ``--memory``) is saved to fuzz/found/ and reported; the run
goes on. Exit status 1 when anything was found.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import sys
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as fixed_seed

from fuzz import mutate, seeds, targets

FOUND = Path(__file__).resolve().parent / "found"


def _save(name: str, data: bytes, why: str) -> Path:
    FOUND.mkdir(exist_ok=True)
    path = FOUND / f"{name}-{hashlib.sha256(data).hexdigest()[:12]}.bin"
    path.write_bytes(data)
    path.with_suffix(".txt").write_text(why + "\n")
    return path


def checked(name: str, target, data: bytes, per_input: float) -> str:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    try:
        outcome = target(data)
    except MemoryError:
        raise targets.ContractBroken(f"{name}: out of memory on {len(data):,} bytes") from None
    took = time.perf_counter() - start
    if took > per_input:
        raise targets.ContractBroken(f"{name}: {took:.1f} s on {len(data):,} bytes")
    return outcome


def _property(  # type: ignore[no-untyped-def]
    name: str,
    target,
    corpus: tuple[bytes, ...],
    per_input: float,
    counts: Counter[str],
    outcomes: Counter[tuple[str, str]],
):
    """A Hypothesis test of one target over mutations of its seeds."""

    @settings(
        max_examples=20,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutate.mutated(corpus))
    def one(data: bytes) -> None:
        counts[name] += 1
        try:
            outcomes[name, checked(name, target, data, per_input)] += 1
        except Exception as exc:
            exc.fuzz_input = data  # type: ignore[attr-defined]
            raise

    return one


def run_hypothesis(names: list[str], seconds: float, seed: int | None, per_input: float) -> int:
    every = targets.all_targets()
    by_reader = seeds.by_reader()
    counts: Counter[str] = Counter()
    outcomes: Counter[tuple[str, str]] = Counter()
    found: list[str] = []
    deadline = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < deadline:
        for name in names:
            if time.monotonic() >= deadline:
                break
            pool = by_reader.get(name) or tuple(s for v in by_reader.values() for s in v)
            corpus = tuple(data for _, data in pool) or (b"",)

            one = _property(name, every[name], corpus, per_input, counts, outcomes)
            try:
                if seed is not None:
                    one = fixed_seed(seed + rounds)(one)
                one()
            except Exception as exc:
                data = getattr(exc, "fuzz_input", b"")
                why = f"{type(exc).__name__}: {exc}"[:2000]
                found.append(f"{name}: {why.splitlines()[0][:200]}")
                _save(name, data or why.encode(), why)
        rounds += 1
    print(f"fuzzed for {seconds:g} s ({rounds} rounds), inputs per target:")
    for name in names:
        detail = ", ".join(f"{outcomes[name, k]:,} {k}s" for k in ("result", "error"))
        print(f"  {name:24} {counts[name]:>8,}  ({detail})")
    print(f"  {'total':24} {sum(counts.values()):>8,}")
    if found:
        print(f"found {len(found)} (saved in {FOUND}):")
        for line in found:
            print(f"  {line}")
    else:
        print("found nothing: every input gave a result or one error line")
    return 1 if found else 0


def run_atheris(name: str, seconds: float, per_input: float) -> int:
    import atheris  # type: ignore[import-not-found]

    target = targets.all_targets()[name]
    corpus = Path(f"/tmp/snapdiff-fuzz-{name}")
    corpus.mkdir(exist_ok=True)
    for i, (_, data) in enumerate(seeds.by_reader().get(name, ())):
        (corpus / f"seed-{i}").write_bytes(data)
    count = Counter[str]()

    def one(data: bytes) -> None:
        count["inputs"] += 1
        try:
            checked(name, target, data, per_input)
        except targets.ContractBroken:
            _save(name, data, "contract broken")
            raise

    atheris.instrument_all()
    argv = [sys.argv[0], str(corpus), f"-max_total_time={int(seconds)}", "-rss_limit_mb=4096"]
    atheris.Setup(argv, one)
    try:
        atheris.Fuzz()
    finally:
        print(f"{name}: {count['inputs']:,} inputs")
    return 0


def _size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * units[text[-1].upper()] if text[-1:].upper() in units else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--seed", type=int, default=None, help="a fixed seed: the same inputs")
    parser.add_argument("--memory", default="4G", help="address-space limit of the run")
    parser.add_argument("--per-input", type=float, default=10.0, help="seconds one input may take")
    parser.add_argument("--target", action="append", help="a target (repeatable); default all")
    parser.add_argument("--engine", choices=("hypothesis", "atheris"), default="hypothesis")
    args = parser.parse_args()
    limit = _size(args.memory)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    names = args.target or list(targets.all_targets())
    if args.engine == "atheris":
        sys.exit(run_atheris(names[0], args.seconds, args.per_input))
    sys.exit(run_hypothesis(names, args.seconds, args.seed, args.per_input))


if __name__ == "__main__":
    main()
