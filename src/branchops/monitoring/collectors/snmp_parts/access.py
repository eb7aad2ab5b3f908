"""Reaching a device: the engine's one SNMP client, targets built from credentials, and the
translation of the library's errors into the states an operator reads.

All SNMP collectors of an engine share ONE :class:`~branchops.snmp.SnmpClient`, so every
poll goes through one UDP socket, whatever the number of devices.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Final

from branchops.monitoring.collectors.base import (
    CheckSpec,
    CollectorError,
    ConfigError,
    SnmpAccess,
    State,
)
from branchops.snmp import (
    AuthProtocol,
    Community,
    PrivProtocol,
    SnmpAuthError,
    SnmpClient,
    SnmpDecodeError,
    SnmpError,
    SnmpErrorStatus,
    SnmpProtocolError,
    SnmpReportError,
    SnmpTimeout,
    Target,
    UsmUser,
)

SHARED_KEY: Final = "snmp.client"
DEFAULT_MAX_IN_FLIGHT: Final = 1000
# The library's share of a check's timeout: what is left lets the collector report "no
# answer" itself, before the scheduler cancels it as late.
_TIMEOUT_SHARE: Final = 0.8
_MIN_TRY_S: Final = 0.1

AUTH: Final[Mapping[str, AuthProtocol]] = {
    "": AuthProtocol.NONE,
    "md5": AuthProtocol.MD5,
    "sha": AuthProtocol.SHA,
    "sha224": AuthProtocol.SHA224,
    "sha256": AuthProtocol.SHA256,
    "sha384": AuthProtocol.SHA384,
    "sha512": AuthProtocol.SHA512,
}
PRIV: Final[Mapping[str, PrivProtocol]] = {
    "": PrivProtocol.NONE,
    "des": PrivProtocol.DES,
    "aes": PrivProtocol.AES,
    "aes128": PrivProtocol.AES,
    "aes192": PrivProtocol.AES192,
    "aes256": PrivProtocol.AES256,
}


class SharedSnmpClient:
    """The engine's one SNMP client, opened on first use.

    Opening binds a socket with an ``await`` in between, so two collectors starting at once
    could each open one; the lock makes the first open the only one.
    """

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.client = SnmpClient(
            timeout=2.0,
            retries=1,
            max_in_flight=int(options.get("snmp_max_in_flight", DEFAULT_MAX_IN_FLIGHT)),
        )
        self._lock = asyncio.Lock()
        self._open = False

    async def ready(self) -> SnmpClient:
        if not self._open:
            async with self._lock:
                if not self._open:
                    try:
                        await self.client.open()
                    except OSError as exc:  # out of descriptors, no such local address
                        raise CollectorError(
                            f"cannot open the SNMP socket: {exc}", state=State.UNKNOWN
                        ) from exc
                    self._open = True
        return self.client

    def close(self) -> None:
        self.client.close()
        self._open = False

    async def aclose(self) -> None:
        self.close()


def credentials_of(access: SnmpAccess) -> Community | UsmUser:
    """The library's credentials for a resolved SNMP credential (ConfigError if unusable)."""
    if access.version == "2c":
        if not access.community:
            raise ConfigError("SNMP v2c credential without a community")
        return Community(access.community)
    if access.version != "3":
        raise ConfigError(f"SNMP version {access.version!r} is not supported (2c or 3)")
    try:
        return UsmUser(
            access.username,
            AUTH[access.auth_protocol.lower()],
            access.auth_password,
            PRIV[access.priv_protocol.lower()],
            access.priv_password,
        )
    except KeyError as exc:
        raise ConfigError(f"SNMPv3 credential: unknown protocol {exc.args[0]!r}") from None
    except ValueError as exc:
        raise ConfigError(f"SNMPv3 credential: {exc}") from None


def target_of(spec: CheckSpec) -> Target:
    """Where and how to poll: the check's address with its credential.

    The per-try timeout is the credential's, shortened when all tries would not fit in the
    check's own timeout, so that a silent device is reported as such ("no answer") rather
    than as a check that ran late.
    """
    access = spec.snmp
    if access is None:
        raise ConfigError("no SNMP credential resolved for this check")
    tries = access.retries + 1
    per_try = min(access.timeout_s, max(_MIN_TRY_S, spec.timeout_s * _TIMEOUT_SHARE / tries))
    try:
        return Target(
            spec.target,
            access.port,
            credentials_of(access),
            timeout=per_try,
            retries=access.retries,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def translate(exc: SnmpError, target: Target) -> CollectorError:
    """The operator's reading of a library error: down when the device is silent, unknown
    when it answered but could not be read (credentials, protocol, agent errors)."""
    where = f"{target.host}:{target.port}"
    if isinstance(exc, SnmpTimeout):
        if "answered discovery" in str(exc):
            # SNMPv3: the agent answered discovery, then dropped our encrypted request, which
            # is how net-snmp treats a wrong privacy password. The device is alive.
            return ConfigError(f"{where}: SNMPv3 request unanswered after discovery: {exc}")
        return CollectorError(f"{where}: no answer (check credential/port/ACL)", retryable=True)
    if isinstance(exc, SnmpAuthError):
        return ConfigError(f"{where}: SNMP credential refused ({exc.reason}): {exc}")
    if isinstance(exc, SnmpErrorStatus):
        return CollectorError(
            f"{where}: agent error: {exc}", retryable=exc.retryable, state=State.UNKNOWN
        )
    if isinstance(exc, SnmpProtocolError | SnmpReportError | SnmpDecodeError):
        return CollectorError(f"{where}: {exc}", retryable=False, state=State.UNKNOWN)
    return CollectorError(f"{where}: SNMP failure: {exc}", retryable=True, state=State.UNKNOWN)
