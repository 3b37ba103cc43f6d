"""snapdiff: find the creation sites that leak goroutines, threads and tasks.

The library knows nothing about terminals: read a dump into a :class:`Snapshot`
(:func:`snapdiff.inputs.load`), group it (:mod:`snapdiff.group`), diff two
(:mod:`snapdiff.diff`) and render (:mod:`snapdiff.render`).
"""

__version__ = "0.1.0"
