"""streamproc/recovery.py replaces Faust's Recovery.on_recovery_completed with a copy in which the
stream partitions are resumed after the seek. The copy must stay Faust's code otherwise: when a
faust-streaming upgrade changes the original, this fails and the patch must be looked at again."""

from __future__ import annotations

import ast
import inspect
import textwrap

from faust.tables.recovery import Recovery

from streamproc.recovery import SeekFirstRecovery


def _statements(func: object) -> list[str]:
    """The function's statements without docstring and debug logging, with the resume call
    marked, and cast(_App, ...) read as cast(Any, ...)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))  # type: ignore[arg-type]
    out = []
    for node in tree.body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        text = ast.unparse(node).replace("cast(_App,", "cast(Any,")
        text = "\n".join(line for line in text.splitlines() if "self.log.dev(" not in line)
        if text:
            out.append("RESUME" if text.startswith("consumer.resume_partitions(") else text)
    return out


def test_the_patch_is_fausts_code_with_the_resume_moved_after_the_seek() -> None:
    faust, ours = (
        _statements(Recovery.on_recovery_completed),
        _statements(SeekFirstRecovery.on_recovery_completed),
    )
    seek = next(i for i, s in enumerate(faust) if "perform_seek" in s)
    assert faust.index("RESUME") < seek, "Faust now resumes after the seek: streamproc/recovery.py may go"
    assert [s for s in ours if s != "RESUME"] == [s for s in faust if s != "RESUME"], (
        "Faust's on_recovery_completed changed: update streamproc/recovery.py from it"
    )
    assert ours.index("RESUME") == next(i for i, s in enumerate(ours) if "perform_seek" in s) + 1
