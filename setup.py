"""The optional C extension; everything else about the package is in pyproject.toml.

streamproc/detect/_kernels.c holds the duplicate core's inner loops. Without a C compiler the
install goes on without it and the core runs the same code in numpy, slower (docs/performance.md).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "streamproc.detect._kernels",
            ["streamproc/detect/_kernels.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
