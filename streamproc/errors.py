"""The exception tree.

StreamprocError
 ├── ConfigError   a setting is missing or invalid
 ├── DecodeError   an event could not be decoded or failed validation (goes to the DLQ)
 ├── BrokerError   a broker could not be started, reached or stopped
 └── StageError    a detection stage failed on an otherwise valid event
"""

from __future__ import annotations


class StreamprocError(Exception):
    """Base class of every error streamproc raises on purpose."""


class ConfigError(StreamprocError):
    """A setting is missing or invalid; the message names it and the fix."""


class DecodeError(StreamprocError):
    """An event could not be decoded or failed validation.

    `reason` is a short machine code (bounded set, safe as a metric label);
    the message says what was wrong for a human.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class BrokerError(StreamprocError):
    """A broker could not be started, reached or stopped."""


class StageError(StreamprocError):
    """A detection stage failed on an otherwise valid event."""
