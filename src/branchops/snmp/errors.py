"""The one exception family of the SNMP library.

Every failure a caller can meet is an :class:`SnmpError`; its ``retryable`` flag says whether
sending the same request again later can help (a timeout can, a wrong key cannot), so a
scheduler can decide without knowing the subclasses.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorStatus(IntEnum):
    """error-status values of a Response PDU (RFC 3416 section 3)."""

    NO_ERROR = 0
    TOO_BIG = 1
    NO_SUCH_NAME = 2
    BAD_VALUE = 3
    READ_ONLY = 4
    GEN_ERR = 5
    NO_ACCESS = 6
    WRONG_TYPE = 7
    WRONG_LENGTH = 8
    WRONG_ENCODING = 9
    WRONG_VALUE = 10
    NO_CREATION = 11
    INCONSISTENT_VALUE = 12
    RESOURCE_UNAVAILABLE = 13
    COMMIT_FAILED = 14
    UNDO_FAILED = 15
    AUTHORIZATION_ERROR = 16
    NOT_WRITABLE = 17
    INCONSISTENT_NAME = 18


class SnmpError(Exception):
    """Base of every error this library raises."""

    retryable: bool = False


class SnmpDecodeError(SnmpError):
    """A packet is not valid BER/SNMP: malformed, truncated, hostile or undecryptable."""


class SnmpTimeout(SnmpError):
    """No valid answer arrived within the timeout, after all retries."""

    retryable = True


class SnmpAuthError(SnmpError):
    """The agent refused our credentials, or its answer failed authentication.

    ``reason`` names the USM statistic the agent reported (``unknownUserNames``,
    ``wrongDigests``, ``unsupportedSecLevels``, ``decryptionErrors``, ...),
    ``authorizationError`` when the agent's access control refused the request, or, when
    we rejected the answer ourselves, what was wrong with it (``badResponseDigest``).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class SnmpReportError(SnmpError):
    """The agent answered with a Report PDU that is not an authentication failure."""

    def __init__(self, oid: str, message: str) -> None:
        super().__init__(message)
        self.oid = oid


class SnmpProtocolError(SnmpError):
    """The agent broke the protocol: an answer of the wrong kind, or a walk that loops."""


class SnmpErrorStatus(SnmpError):
    """The Response carries a non-zero error-status (tooBig, noSuchName, genErr, ...).

    ``index`` is the 1-based error-index of the offending variable binding, 0 for none.
    Only a transient agent-side failure (genErr, resourceUnavailable) may pass on retry;
    tooBig needs a smaller request, the others a different one.
    """

    def __init__(self, status: int, index: int) -> None:
        try:
            name = ErrorStatus(status).name.lower()
        except ValueError:
            name = f"status {status}"
        super().__init__(f"agent answered error-status {name} at index {index}")
        self.status = status
        self.index = index
        self.retryable = status in (ErrorStatus.GEN_ERR, ErrorStatus.RESOURCE_UNAVAILABLE)
