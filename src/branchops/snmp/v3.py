"""SNMPv3 message framing (RFC 3412 section 6) with USM security parameters (RFC 3414 2.4).

Only the BER layout lives here; keys, digests and ciphers are in :mod:`branchops.snmp.usm`.
A decoded message remembers where its msgAuthenticationParameters sit in the datagram so
that the receiver can check the digest without re-encoding anything.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from branchops.snmp.ber import (
    DECODE_FAILURES,
    OCTET_STRING,
    SEQUENCE,
    Pdu,
    TrapV1,
    decode_pdu_at,
    encode_integer,
    encode_length,
    expect,
    message_version,
    read_integer,
    read_octets,
    tlv,
)
from branchops.snmp.errors import SnmpDecodeError

FLAG_AUTH: Final = 0x01
FLAG_PRIV: Final = 0x02
FLAG_REPORTABLE: Final = 0x04
USM_SECURITY_MODEL: Final = 3
MIN_MAX_SIZE: Final = 484  # RFC 3412: msgMaxSize is at least 484
MAX_ENGINE_ID: Final = 32
MAX_USER_NAME: Final = 32
_MAX_INT: Final = 2**31 - 1


class UsmSecurityParameters(NamedTuple):
    """UsmSecurityParameters (RFC 3414 section 2.4)."""

    engine_id: bytes
    boots: int
    time: int
    user_name: bytes
    auth_params: bytes
    priv_params: bytes


class V3Message(NamedTuple):
    """A decoded but not yet authenticated or decrypted SNMPv3 message.

    ``scoped_data`` is the ScopedPDU element when the message is in plaintext, else the
    ciphertext (the content of the encryptedPDU OCTET STRING). ``auth_offset`` is where the
    msgAuthenticationParameters content starts in the datagram.
    """

    msg_id: int
    max_size: int
    flags: int
    security: UsmSecurityParameters
    scoped_data: bytes
    auth_offset: int


class ScopedPdu(NamedTuple):
    """A ScopedPDU (RFC 3412 section 6.8) with its PDU decoded."""

    context_engine_id: bytes
    context_name: bytes
    pdu: Pdu | TrapV1


def decode_v3_message(data: bytes) -> V3Message:
    """The header and security parameters of a v3 datagram. Raises SnmpDecodeError only."""
    version, pos, stop = message_version(data)
    if version != 3:
        raise SnmpDecodeError(f"not an SNMPv3 message: version {version}")
    try:
        return _decode_v3(data, pos, stop)
    except DECODE_FAILURES as exc:
        raise SnmpDecodeError(f"malformed SNMPv3 message: {exc}") from None


def _decode_v3(data: bytes, pos: int, stop: int) -> V3Message:
    g_start, g_stop = expect(data, pos, stop, SEQUENCE)
    msg_id, p = read_integer(data, g_start, g_stop)
    max_size, p = read_integer(data, p, g_stop)
    flag_octets, p = read_octets(data, p, g_stop)
    model, p = read_integer(data, p, g_stop)
    if p != g_stop or len(flag_octets) != 1:
        raise SnmpDecodeError("malformed msgGlobalData")
    flags = flag_octets[0]
    if not 0 <= msg_id <= _MAX_INT or not MIN_MAX_SIZE <= max_size <= _MAX_INT:
        raise SnmpDecodeError("msgID or msgMaxSize out of range")
    if flags & FLAG_PRIV and not flags & FLAG_AUTH:
        raise SnmpDecodeError("privacy without authentication is not a valid security level")
    if model != USM_SECURITY_MODEL:
        raise SnmpDecodeError(f"unsupported security model {model}")
    s_start, s_stop = expect(data, g_stop, stop, OCTET_STRING)
    security, auth_offset = _decode_usm(data, s_start, s_stop)
    if flags & FLAG_PRIV:
        c_start, c_stop = expect(data, s_stop, stop, OCTET_STRING)
        scoped = data[c_start:c_stop]
    else:
        c_stop = expect(data, s_stop, stop, SEQUENCE)[1]
        scoped = data[s_stop:c_stop]
    if c_stop != stop:
        raise SnmpDecodeError("trailing octets after msgData")
    return V3Message(msg_id, max_size, flags, security, scoped, auth_offset)


def _decode_usm(data: bytes, pos: int, stop: int) -> tuple[UsmSecurityParameters, int]:
    start, end = expect(data, pos, stop, SEQUENCE)
    if end != stop:
        raise SnmpDecodeError("trailing octets after UsmSecurityParameters")
    engine_id, p = read_octets(data, start, end)
    boots, p = read_integer(data, p, end)
    engine_time, p = read_integer(data, p, end)
    user, p = read_octets(data, p, end)
    auth_start, auth_stop = expect(data, p, end, OCTET_STRING)
    priv, p = read_octets(data, auth_stop, end)
    if p != end:
        raise SnmpDecodeError("trailing octets in UsmSecurityParameters")
    if len(engine_id) > MAX_ENGINE_ID or len(user) > MAX_USER_NAME:
        raise SnmpDecodeError("engine ID or user name too long")
    if not (0 <= boots <= _MAX_INT and 0 <= engine_time <= _MAX_INT):
        raise SnmpDecodeError("engine boots or time out of range")
    params = UsmSecurityParameters(
        engine_id, boots, engine_time, user, data[auth_start:auth_stop], priv
    )
    return params, auth_start


def scoped_pdu_bounds(data: bytes) -> tuple[bytes, bytes, int, int]:
    """contextEngineID, contextName, and where the PDU starts and the ScopedPDU ends.

    Octets after the ScopedPDU are ignored: DES pads the plaintext to whole blocks.
    """
    try:
        start, stop = expect(data, 0, len(data), SEQUENCE)
        engine_id, p = read_octets(data, start, stop)
        name, p = read_octets(data, p, stop)
    except DECODE_FAILURES as exc:
        raise SnmpDecodeError(f"malformed ScopedPDU: {exc}") from None
    return engine_id, name, p, stop


def decode_scoped_pdu(data: bytes) -> ScopedPdu:
    """A plaintext (or decrypted) ScopedPDU with its PDU. Raises SnmpDecodeError only."""
    engine_id, name, pos, stop = scoped_pdu_bounds(data)
    try:
        pdu = decode_pdu_at(data, pos, stop)
    except DECODE_FAILURES as exc:
        raise SnmpDecodeError(f"malformed PDU in ScopedPDU: {exc}") from None
    return ScopedPdu(engine_id, name, pdu)


def encode_scoped_pdu(context_engine_id: bytes, context_name: bytes, pdu: bytes) -> bytes:
    """A ScopedPDU element around an encoded PDU."""
    return tlv(
        SEQUENCE, tlv(OCTET_STRING, context_engine_id) + tlv(OCTET_STRING, context_name) + pdu
    )


def encode_v3_message(
    *,
    msg_id: int,
    max_size: int,
    flags: int,
    security: UsmSecurityParameters,
    msg_data: bytes,
) -> tuple[bytes, int]:
    """A v3 datagram and the offset of its msgAuthenticationParameters content.

    ``msg_data`` is the ScopedPDU element, or the encryptedPDU OCTET STRING element.
    ``security.auth_params`` is sent as given: zeros of the MAC length when the caller will
    sign the message afterwards.
    """
    usm_head = (
        tlv(OCTET_STRING, security.engine_id)
        + encode_integer(0x02, security.boots)
        + encode_integer(0x02, security.time)
        + tlv(OCTET_STRING, security.user_name)
        + bytes((OCTET_STRING,))
        + encode_length(len(security.auth_params))
    )
    usm_body = usm_head + security.auth_params + tlv(OCTET_STRING, security.priv_params)
    usm = tlv(SEQUENCE, usm_body)
    security_octets = tlv(OCTET_STRING, usm)
    head = (
        b"\x02\x01\x03"
        + tlv(
            SEQUENCE,
            encode_integer(0x02, msg_id)
            + encode_integer(0x02, max_size)
            + bytes((OCTET_STRING, 1, flags))
            + b"\x02\x01\x03",
        )
        + security_octets[: len(security_octets) - len(usm_body)]
    )
    body_len = len(head) + len(usm_body) + len(msg_data)
    prefix = bytes((SEQUENCE,)) + encode_length(body_len) + head
    return prefix + usm_body + msg_data, len(prefix) + len(usm_head)
