"""The optional compiled scanner of Go dumps (snapdiff/runtimes/go/_gscan.c).

Everything else is in pyproject.toml. Without a C compiler the build of the extension fails,
setuptools goes on (``optional=True``) and snapdiff reads Go dumps in pure Python, slower;
``snapdiff formats`` says which path runs.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "snapdiff.runtimes.go._gscan",
            ["snapdiff/runtimes/go/_gscan.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
