"""streamproc: event-driven comment-stream processor (links, duplicates, spam, decide)."""

__version__ = "0.1.0"

__all__ = ["__version__"]
