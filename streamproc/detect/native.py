"""The detection cores' inner loops in C (`_kernels.c`), when the install built them.

`C` is the extension module or None: every caller keeps the numpy code that computes the same and
uses it when `C` is None (an install without a C compiler, e.g. the container image).
"""

from __future__ import annotations

from types import ModuleType

C: ModuleType | None
try:
    from streamproc.detect import _kernels as C
except ImportError:  # pragma: no cover - an install without a C compiler
    C = None


def kernels() -> str:
    """Which code runs the inner loops: "c" or "numpy" (the worker logs it at start)."""
    return "numpy" if C is None else "c"
