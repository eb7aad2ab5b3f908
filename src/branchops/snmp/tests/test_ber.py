"""The BER codec: round trips, byte vectors worked out from X.690 and RFC 3416, hostile input."""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from branchops.snmp.ber import (
    CommunityMessage,
    Pdu,
    TrapV1,
    decode_community_message,
    decode_pdu,
    encode_community_message,
    encode_integer,
    encode_length,
    encode_oid,
    encode_pdu,
    encode_request_varbind,
    encode_value,
    encode_varbind,
    tlv,
)
from branchops.snmp.errors import SnmpDecodeError
from branchops.snmp.types import PduType, SnmpType, VarBind, format_oid, parse_oid
from branchops.snmp.v3 import decode_scoped_pdu, decode_v3_message

SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)


def response_with(*varbinds: bytes, request_id: int = 7) -> bytes:
    pdu = encode_pdu(PduType.RESPONSE, request_id, 0, 0, b"".join(varbinds))
    return encode_community_message(1, b"public", pdu)


def round_trip(kind: SnmpType, value: object, oid: tuple[int, ...] = SYS_UPTIME) -> VarBind:
    message = decode_community_message(response_with(encode_varbind(oid, kind, value)))  # type: ignore[arg-type]
    assert isinstance(message.pdu, Pdu)
    [varbind] = message.pdu.varbinds
    return varbind


# ---- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (SnmpType.INTEGER, 0),
        (SnmpType.INTEGER, 1),
        (SnmpType.INTEGER, -1),
        (SnmpType.INTEGER, 127),
        (SnmpType.INTEGER, 128),
        (SnmpType.INTEGER, -128),
        (SnmpType.INTEGER, -129),
        (SnmpType.INTEGER, 2**31 - 1),
        (SnmpType.INTEGER, -(2**31)),
        (SnmpType.OCTET_STRING, b""),
        (SnmpType.OCTET_STRING, b"\x00\xff public"),
        (SnmpType.OCTET_STRING, bytes(range(256)) * 2),  # two-octet length
        (SnmpType.OCTET_STRING, b"x" * 70_000),  # three-octet length
        (SnmpType.NULL, None),
        (SnmpType.OBJECT_IDENTIFIER, (1, 3, 6, 1, 4, 1, 2011, 5, 25)),
        (SnmpType.OBJECT_IDENTIFIER, (0, 0)),
        (SnmpType.OBJECT_IDENTIFIER, (2, 999, 3)),
        (SnmpType.IP_ADDRESS, "0.0.0.0"),  # noqa: S104 - a value, not a bind address
        (SnmpType.IP_ADDRESS, "255.255.255.255"),
        (SnmpType.IP_ADDRESS, "10.20.30.40"),
        (SnmpType.COUNTER32, 0),
        (SnmpType.COUNTER32, 2**31),
        (SnmpType.COUNTER32, 2**32 - 1),
        (SnmpType.GAUGE32, 2**32 - 1),
        (SnmpType.TIMETICKS, 123_456_789),
        (SnmpType.OPAQUE, b"\x9f\x78\x04\x3f\x80\x00\x00"),  # an opaque float, passed through
        (SnmpType.COUNTER64, 0),
        (SnmpType.COUNTER64, 2**63),
        (SnmpType.COUNTER64, 2**64 - 1),
        (SnmpType.NO_SUCH_OBJECT, None),
        (SnmpType.NO_SUCH_INSTANCE, None),
        (SnmpType.END_OF_MIB_VIEW, None),
    ],
)
def test_every_value_type_round_trips(kind: SnmpType, value: object) -> None:
    varbind = round_trip(kind, value)
    assert varbind == (SYS_UPTIME, kind, value)
    assert varbind.is_exception == (kind >= SnmpType.NO_SUCH_OBJECT)


@pytest.mark.parametrize(
    "oid",
    [
        (1, 3),
        (1, 3, 6, 1, 2, 1, 2, 2, 1, 10, 127),
        (1, 3, 6, 1, 2, 1, 2, 2, 1, 10, 128),
        (1, 3, 6, 1, 2, 1, 2, 2, 1, 10, 16_383),
        (1, 3, 6, 1, 2, 1, 2, 2, 1, 10, 16_384),
        (1, 3, 6, 1, 4, 1, 2**28),
        (1, 3, 6, 1, 4, 1, 2**32 - 1),
        (2, 2**32 - 81),  # the largest second arc under 2
        (1, 3, *range(126)),  # 128 arcs, the maximum
    ],
)
def test_oids_round_trip_as_names(oid: tuple[int, ...]) -> None:
    assert round_trip(SnmpType.NULL, None, oid).oid == oid


def test_oid_text_forms() -> None:
    assert parse_oid(".1.3.6.1.2.1.1.3.0") == SYS_UPTIME
    assert parse_oid("1.3.6.1.2.1.1.3.0") == SYS_UPTIME
    assert format_oid(SYS_UPTIME) == "1.3.6.1.2.1.1.3.0"
    for bad in ("", "1", "3.1", "1.40", "1.3.x", "1.3.-1", f"1.3.{2**32}", "1." + "1." * 128 + "1"):
        with pytest.raises(ValueError, match=r"OID|arc|identifier"):
            parse_oid(bad)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (SnmpType.INTEGER, 2**31),
        (SnmpType.INTEGER, -(2**31) - 1),
        (SnmpType.COUNTER32, -1),
        (SnmpType.COUNTER32, 2**32),
        (SnmpType.GAUGE32, 2**32),
        (SnmpType.TIMETICKS, -5),
        (SnmpType.COUNTER64, 2**64),
        (SnmpType.COUNTER64, "12"),
        (SnmpType.OCTET_STRING, 12),
        (SnmpType.IP_ADDRESS, b"\x01\x02\x03\x04"),
    ],
)
def test_values_outside_their_type_are_refused(kind: SnmpType, value: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - several messages, one meaning
        encode_value(kind, value)  # type: ignore[arg-type]


# ---- byte vectors worked out by hand from X.690 8.3/8.19 and RFC 3416 ----------------------------


@pytest.mark.parametrize(
    ("number", "encoded"),
    [
        (0, "020100"),
        (127, "02017f"),
        (128, "02020080"),
        (256, "02020100"),
        (-1, "0201ff"),
        (-128, "020180"),
        (-129, "0202ff7f"),
        (2**31 - 1, "02047fffffff"),
        (-(2**31), "020480000000"),
    ],
)
def test_integer_octets(number: int, encoded: str) -> None:
    assert encode_integer(0x02, number).hex() == encoded


def test_unsigned_types_get_a_leading_zero_octet() -> None:
    assert encode_value(SnmpType.COUNTER32, 2**32 - 1).hex() == "4105" + "00" + "ff" * 4
    assert encode_value(SnmpType.COUNTER64, 2**64 - 1).hex() == "4609" + "00" + "ff" * 8
    assert encode_value(SnmpType.TIMETICKS, 100).hex() == "430164"


@pytest.mark.parametrize(
    ("oid", "encoded"),
    [
        ("1.3.6.1.2.1.1.1.0", "06082b06010201010100"),
        ("1.3.6.1.4.1.2011", "06072b06010401" + "8f5b"),  # 2011 = 15*128 + 91
        ("2.999.3", "0603883703"),  # X.690 8.19.5's own example: 2*40+999 = 1079
        ("1.3.268435456", "06062b" + "8180808000"),  # 2**28
        ("1.3.4294967295", "06062b" + "8fffffff7f"),  # 2**32-1
    ],
)
def test_oid_octets(oid: str, encoded: str) -> None:
    assert encode_oid(parse_oid(oid)).hex() == encoded


def test_length_octets() -> None:
    assert encode_length(0).hex() == "00"
    assert encode_length(127).hex() == "7f"
    assert encode_length(128).hex() == "8180"
    assert encode_length(256).hex() == "820100"
    assert encode_length(70_000).hex() == "83011170"


def test_v2c_get_request_octets() -> None:
    # varbind: 30 0c (06 08 sysUpTime.0) (05 00); list: 30 0e; PDU a0 19 with request-id 1,
    # error-status 0, error-index 0; message 30 26: version 1 (v2c), community "public".
    pdu = encode_pdu(PduType.GET_REQUEST, 1, 0, 0, encode_request_varbind(SYS_UPTIME))
    message = encode_community_message(1, b"public", pdu)
    assert message.hex() == (
        "3026"
        + "020101"
        + "0406"
        + b"public".hex()
        + "a019"
        + "020101"
        + "020100"
        + "020100"
        + "300e"
        + "300c"
        + "06082b06010201010300"
        + "0500"
    )


def test_decode_a_response_written_by_hand() -> None:
    packet = bytes.fromhex(
        "302a"
        "020101"
        "0406" + b"public".hex() + "a21d"
        "020405f5e100"
        "020100"
        "020100" + "300f"
        "300d"
        "06082b06010201010300"
        "4301"
        "2a"
    )
    message = decode_community_message(packet)
    assert message == CommunityMessage(
        1,
        b"public",
        Pdu(PduType.RESPONSE, 100_000_000, 0, 0, [VarBind(SYS_UPTIME, SnmpType.TIMETICKS, 42)]),
    )


def test_decode_a_getbulk_request() -> None:
    pdu = decode_pdu(encode_pdu(PduType.GET_BULK_REQUEST, 9, 1, 25, encode_request_varbind((1, 3))))
    assert isinstance(pdu, Pdu)
    assert (pdu.type, pdu.error_status, pdu.error_index) == (PduType.GET_BULK_REQUEST, 1, 25)


def test_decode_snmpv1_trap() -> None:
    body = (
        encode_oid((1, 3, 6, 1, 4, 1, 2011))
        + b"\x40\x04\x0a\x01\x02\x03"
        + encode_integer(0x02, 6)
        + encode_integer(0x02, 17)
        + encode_integer(0x43, 12345)
        + tlv(0x30, encode_varbind((1, 3, 6, 1, 2, 1, 1, 5, 0), SnmpType.OCTET_STRING, b"fw01"))
    )
    message = decode_community_message(encode_community_message(0, b"traps", tlv(0xA4, body)))
    assert message.version == 0
    assert message.pdu == TrapV1(
        (1, 3, 6, 1, 4, 1, 2011),
        "10.1.2.3",
        6,
        17,
        12345,
        [VarBind((1, 3, 6, 1, 2, 1, 1, 5, 0), SnmpType.OCTET_STRING, b"fw01")],
    )


@pytest.mark.parametrize(
    "pdu_type",
    [PduType.INFORM_REQUEST, PduType.SNMPV2_TRAP, PduType.REPORT, PduType.SET_REQUEST],
)
def test_other_pdu_types_decode(pdu_type: PduType) -> None:
    varbinds = encode_varbind(SYS_UPTIME, SnmpType.TIMETICKS, 5)
    pdu = decode_pdu(encode_pdu(pdu_type, 3, 0, 0, varbinds))
    assert isinstance(pdu, Pdu)
    assert pdu.type is pdu_type


# ---- hostile input ---------------------------------------------------------------------------


def valid_response() -> bytes:
    return response_with(
        encode_varbind(SYS_UPTIME, SnmpType.TIMETICKS, 5),
        encode_varbind((1, 3, 6, 1, 2, 1, 2, 2, 1, 10, 300), SnmpType.COUNTER32, 2**32 - 1),
        encode_varbind((1, 3, 6, 1, 2, 1, 1, 1, 0), SnmpType.OCTET_STRING, b"x" * 200),
    )


def test_every_truncation_is_a_decode_error() -> None:
    packet = valid_response()
    for size in range(len(packet)):
        with pytest.raises(SnmpDecodeError):
            decode_community_message(packet[:size])


def nested(depth: int) -> bytes:
    packet = b"\x05\x00"
    for _ in range(depth):
        packet = tlv(0x30, packet)
    return packet


def with_value(value_element: bytes) -> bytes:
    name = encode_oid(SYS_UPTIME)
    return response_with(tlv(0x30, name + value_element))


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (b"\x30\x80\x02\x01\x01\x00\x00", "indefinite"),
        (b"\x30\x84\xff\xff\xff\xff\x02\x01\x01", "past"),
        (b"\x30\x85\x00\x00\x00\x00\x05\x02\x01\x01", "longer than 4"),
        (nested(5000), "expected tag"),  # absurd nesting: nothing recurses, nothing to exhaust
        (with_value(b"\x41\x06\x01\x00\x00\x00\x00\x00"), "32-bit"),
        (with_value(b"\x41\x05\x01\x00\x00\x00\x00"), "above"),
        (with_value(b"\x02\x00"), "INTEGER"),
        (with_value(b"\x46\x0a" + b"\x01" * 10), "Counter64"),
        (with_value(b"\x40\x03\x01\x02\x03"), "IpAddress"),
        (with_value(b"\x05\x01\x00"), "NULL"),
        (with_value(b"\x24\x03\x04\x01\x41"), "unknown value tag"),  # constructed string
        (with_value(b"\x06\x07\x2b" + b"\xff" * 5 + b"\x7f"), "arc above"),
        (with_value(b"\x06\x03\x2b\x80\x01"), "minimal"),
        (with_value(b"\x06\x02\x2b\x81"), "ends inside"),
        (with_value(b"\x06\x81\x81" + b"\x01" * 129), "too many arcs"),
        (with_value(b"\x06\x00"), "bad length"),
        (response_with(b"\x30\x03\x05\x01\x00"), "malformed"),
    ],
)
def test_malformed_packets_raise_decode_errors(packet: bytes, reason: str) -> None:
    with pytest.raises(SnmpDecodeError, match=reason):
        decode_community_message(packet)


def test_huge_arc_stops_early_instead_of_building_a_bignum() -> None:
    packet = with_value(b"\x06\x82\x02\x5a\x2b" + b"\xff" * 600 + b"\x7f")
    with pytest.raises(SnmpDecodeError, match="arc above"):
        decode_community_message(packet)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_ever_raise_decode_errors(data: bytes) -> None:
    for decoder in (decode_community_message, decode_v3_message, decode_pdu, decode_scoped_pdu):
        with contextlib.suppress(SnmpDecodeError):
            decoder(data)


@settings(max_examples=600, deadline=None)
@given(st.data())
def test_mutated_messages_only_ever_raise_decode_errors(data: st.DataObject) -> None:
    # Random bytes rarely get past the first tag; mutating a valid message reaches the
    # inner decoders (varbinds, values, OIDs).
    packet = bytearray(valid_response())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(packet) - 1))
        packet[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(packet)))
    with contextlib.suppress(SnmpDecodeError):
        decode_community_message(bytes(packet[:cut]))


def test_decoding_a_megabyte_of_noise_is_quick_and_safe() -> None:
    noise = random.Random(3).randbytes(1_000_000)
    for start in range(0, len(noise), 50_000):
        with pytest.raises(SnmpDecodeError):
            decode_community_message(b"\x30\x83\x0f\x42\x40" + noise[start:])
