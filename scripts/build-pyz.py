#!/usr/bin/env python3
"""Build ``dist/snapdiff.pyz``: snapdiff and its dependencies in one file that runs with any
CPython 3.11+ on the platform it was built on, with nothing installed.

    python3 scripts/build-pyz.py [-o dist/snapdiff.pyz] [--orjson-for 3.11 3.12 3.13]

What it does (as shiv or pex would, with the standard library only):

1. ``pip install --target`` this checkout and its dependencies into a temporary folder
   (typer, rich, orjson, protobuf, py-spy with its program in ``bin/``).
2. orjson is compiled for one Python: the builds for the other Pythons of ``--orjson-for``
   (default 3.11 to 3.13) are fetched as wheels for this platform and their extension files
   put beside the first (``orjson.cpython-312-x86_64-linux-gnu.so``...: each Python loads its
   own). A version pip cannot fetch is left out, and said so.
3. ``zipapp`` packs the folder under ``lib/`` with a start-up module (``__main__.py``, below).

At start-up the file checks the Python (3.11+, else a one-line error and exit 2), unpacks
``lib/`` once into a cache folder named by the file's hash (``$SNAPDIFF_PYZ_CACHE``, else
``$XDG_CACHE_HOME/snapdiff-pyz`` or ``~/.cache/snapdiff-pyz``, else the temporary folder):
compiled modules and py-spy cannot run from inside a zip. Where no bundled orjson loads (another
CPU, musl, a Python it has no build for), a note on stderr, and the standard library's json in
its place (``snapdiff/_orjson_fallback.py``): the same results, slower. py-spy is a program for
the build platform: elsewhere ``capture --pid`` says it cannot run it (``--py-spy PATH``).

The file is built, never committed (``dist/`` is ignored).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipapp
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MAIN = r'''
"""Start-up of snapdiff.pyz (made by scripts/build-pyz.py): unpack the bundled packages once,
then run snapdiff."""
import os
import sys

if sys.version_info < (3, 11):
    sys.stderr.write(
        "snapdiff: error: snapdiff.pyz needs Python 3.11 or newer; this is %d.%d (%s)\n"
        % (sys.version_info[0], sys.version_info[1], sys.executable)
    )
    sys.exit(2)

import hashlib
import shutil
import tempfile
import zipfile


def _cache_roots():
    if os.environ.get("SNAPDIFF_PYZ_CACHE"):
        yield os.environ["SNAPDIFF_PYZ_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    yield os.path.join(base, "snapdiff-pyz")
    yield os.path.join(tempfile.gettempdir(), "snapdiff-pyz-%d" % os.getuid())


def _unpack(archive):
    with zipfile.ZipFile(archive) as zf:
        stamp = zf.read("BUILD_ID").decode().strip()
        last_error = None
        for root in _cache_roots():
            target = os.path.join(root, stamp)
            if os.path.isfile(os.path.join(target, ".complete")):
                return target
            try:
                os.makedirs(root, exist_ok=True)
                tmp = tempfile.mkdtemp(prefix=".unpack-", dir=root)
                for info in zf.infolist():
                    if not info.filename.startswith("lib/") or info.is_dir():
                        continue
                    dest = os.path.join(tmp, info.filename[4:])
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                    with zf.open(info) as src, open(dest, "wb") as out:
                        shutil.copyfileobj(src, out)
                    mode = (info.external_attr >> 16) & 0o777
                    if mode:
                        os.chmod(dest, mode)
                open(os.path.join(tmp, ".complete"), "w").close()
                try:
                    os.rename(tmp, target)
                except OSError:  # another run unpacked it first
                    shutil.rmtree(tmp, ignore_errors=True)
                return target
            except OSError as exc:
                last_error = exc
        sys.stderr.write(
            "snapdiff: error: cannot unpack snapdiff.pyz into a cache folder (%s); set "
            "SNAPDIFF_PYZ_CACHE to a writable folder\n" % last_error
        )
        sys.exit(1)


def _orjson_or_fallback():
    try:
        import orjson  # noqa: F401
    except ImportError:
        import platform

        from snapdiff import _orjson_fallback

        sys.modules["orjson"] = _orjson_fallback
        if not os.environ.get("SNAPDIFF_PYZ_QUIET"):
            sys.stderr.write(
                "snapdiff: note: snapdiff.pyz has no orjson for Python %d.%d on %s %s (it was "
                "built for %s): using the standard library's json, slower on big snapshots\n"
                % (sys.version_info[0], sys.version_info[1], platform.system(),
                   platform.machine(), BUILT_FOR)
            )


lib = _unpack(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, lib)
# py-spy, bundled as a program: found on PATH by 'snapdiff capture --pid'.
os.environ["PATH"] = os.path.join(lib, "bin") + os.pathsep + os.environ.get("PATH", "")
_orjson_or_fallback()

from snapdiff.__main__ import main  # noqa: E402

main()
'''


def run(cmd: list[str]) -> None:
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def platform_tags() -> list[str]:
    """pip --platform tags for this machine's manylinux wheels (glibc Linux only)."""
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")  # linux_x86_64
    if not plat.startswith("linux_"):
        return []
    arch = plat[len("linux_") :]
    return [f"manylinux_2_17_{arch}", f"manylinux2014_{arch}", f"manylinux_2_28_{arch}"]


def add_orjson_builds(site: Path, versions: list[str], pip: list[str]) -> list[str]:
    """Put the orjson extension of each Python version beside the installed one."""
    pkg = site / "orjson"
    have = sorted(p.name for p in pkg.glob("orjson.cpython-*.so")) if pkg.is_dir() else []
    added: list[str] = []
    tags = platform_tags()
    if not have or not tags:
        print("orjson: only the build for this Python (no other platform tags known)")
        return added
    installed = next(
        d.name.removesuffix(".dist-info").split("-")[1] for d in site.glob("orjson-*.dist-info")
    )
    with tempfile.TemporaryDirectory() as tmp:
        for version in versions:
            short = version.replace(".", "")
            if any(f"cpython-{short}-" in name for name in have):
                continue
            dest = Path(tmp) / short
            cmd = [
                *pip,
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                version,
                "--implementation",
                "cp",
                "-d",
                str(dest),
                f"orjson=={installed}",
            ]
            for tag in tags:
                cmd += ["--platform", tag]
            if subprocess.run(cmd).returncode != 0:
                print(f"orjson: no build for Python {version} here: left out")
                continue
            for wheel in dest.glob("*.whl"):
                with zipfile.ZipFile(wheel) as zf:
                    for name in zf.namelist():
                        if name.startswith("orjson/orjson.cpython-") and name.endswith(".so"):
                            (pkg / Path(name).name).write_bytes(zf.read(name))
                            added.append(version)
    return added


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", default=str(ROOT / "dist" / "snapdiff.pyz"))
    ap.add_argument(
        "--orjson-for",
        nargs="*",
        default=["3.11", "3.12", "3.13"],
        metavar="X.Y",
        help="Python versions whose orjson builds are bundled (default 3.11 3.12 3.13)",
    )
    ap.add_argument(
        "--python",
        default="/usr/bin/env python3",
        help="the interpreter line of the file (default: /usr/bin/env python3)",
    )
    args = ap.parse_args()
    pip = [sys.executable, "-m", "pip"]
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "app"
        site = app / "lib"
        run(
            [
                *pip,
                "install",
                "-q",
                "--no-compile",
                "--disable-pip-version-check",
                "--target",
                str(site),
                str(ROOT),
            ]
        )
        for junk in site.glob("*.dist-info/RECORD"):
            junk.unlink()
        shutil.rmtree(site / "bin" / "__pycache__", ignore_errors=True)
        added = add_orjson_builds(site, args.orjson_for, pip)
        built = f"CPython {sys.version_info[0]}.{sys.version_info[1]}"
        built += "".join(f", {v}" for v in added)
        built += f" on {sysconfig.get_platform()}"
        (app / "__main__.py").write_text(f"BUILT_FOR = {built!r}\n" + MAIN)
        digest = hashlib.sha256()
        for path in sorted(site.rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(site)).encode())
                digest.update(path.read_bytes())
        (app / "BUILD_ID").write_text(digest.hexdigest()[:16] + "\n")
        tmp_out = out.with_name(out.name + ".tmp")
        zipapp.create_archive(app, tmp_out, interpreter=args.python, compressed=True)
        tmp_out.replace(out)
    size = out.stat().st_size
    print(f"wrote {out} ({size / 1e6:.1f} MB; orjson for {built})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
