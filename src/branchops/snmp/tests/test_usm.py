"""SNMPv3 USM: key derivation (RFC 3414 A.3 vectors), digests, ciphers, sealing, time windows."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from branchops.snmp.ber import encode_pdu, encode_request_varbind
from branchops.snmp.errors import SnmpAuthError, SnmpDecodeError
from branchops.snmp.types import PduType
from branchops.snmp.usm import (
    TIME_WINDOW,
    AuthProtocol,
    EngineTime,
    LocalizedUser,
    PrivProtocol,
    SecurityLevel,
    UsmUser,
    extend_key,
    localize_key,
    localized,
    password_to_key,
    seal,
    unseal,
)
from branchops.snmp.v3 import (
    FLAG_AUTH,
    FLAG_PRIV,
    FLAG_REPORTABLE,
    decode_scoped_pdu,
    decode_v3_message,
    encode_scoped_pdu,
)

RFC_ENGINE = bytes(11) + b"\x02"  # RFC 3414 A.3: '00 00 00 00 00 00 00 00 00 00 00 02'H
ENGINE = b"\x80\x00\x1f\x88\x80lab-engine"


def test_rfc3414_a31_md5_key_localisation() -> None:
    key = password_to_key(b"maplesyrup", AuthProtocol.MD5)
    assert key.hex() == "9faf3283884e92834ebc9847d8edd963"
    assert localize_key(key, RFC_ENGINE, AuthProtocol.MD5).hex() == (
        "526f5eed9fcce26f8964c2930787d82b"
    )


def test_rfc3414_a32_sha_key_localisation() -> None:
    key = password_to_key(b"maplesyrup", AuthProtocol.SHA)
    assert key.hex() == "9fb5cc0381497b3793528939ff788d5d79145211"
    assert localize_key(key, RFC_ENGINE, AuthProtocol.SHA).hex() == (
        "6695febc9288e36282235fc7151f128497b38f3f"
    )


@pytest.mark.parametrize(
    ("auth", "name", "size"),
    [
        (AuthProtocol.SHA224, "sha224", 28),
        (AuthProtocol.SHA256, "sha256", 32),
        (AuthProtocol.SHA384, "sha384", 48),
        (AuthProtocol.SHA512, "sha512", 64),
    ],
)
def test_sha2_keys_follow_the_same_algorithm(auth: AuthProtocol, name: str, size: int) -> None:
    # RFC 7860 9.3 reuses the RFC 3414 algorithm with the SHA-2 hash; built the slow way here.
    password = b"maplesyrup"
    expanded = (password * (1_048_576 // len(password) + 1))[:1_048_576]
    expected = hashlib.new(name, expanded).digest()
    assert password_to_key(password, auth) == expected
    assert len(localize_key(expected, RFC_ENGINE, auth)) == size


def test_key_extension_appends_hashes_of_the_key_so_far() -> None:
    short = localize_key(
        password_to_key(b"maplesyrup", AuthProtocol.SHA), RFC_ENGINE, AuthProtocol.SHA
    )
    extended = extend_key(short, 32, AuthProtocol.SHA)
    assert extended[:20] == short
    assert extended[20:] == hashlib.new("sha1", short).digest()[:12]  # noqa: S324 - RFC hash
    assert extend_key(short, 16, AuthProtocol.SHA) == short[:16]


@pytest.mark.parametrize(
    ("auth", "name", "mac_length"),
    [
        (AuthProtocol.MD5, "md5", 12),
        (AuthProtocol.SHA, "sha1", 12),
        (AuthProtocol.SHA224, "sha224", 16),
        (AuthProtocol.SHA256, "sha256", 24),
        (AuthProtocol.SHA384, "sha384", 32),
        (AuthProtocol.SHA512, "sha512", 48),
    ],
)
def test_digest_is_truncated_hmac(auth: AuthProtocol, name: str, mac_length: int) -> None:
    user = UsmUser("ops", auth, "authpass123")
    keys = LocalizedUser(user, ENGINE)
    key = localize_key(password_to_key(b"authpass123", auth), ENGINE, auth)
    message = bytes(range(256)) * 3
    assert keys.sign(message) == hmac.new(key, message, name).digest()[:mac_length]
    assert keys.mac_length == mac_length


@pytest.mark.parametrize(
    "priv", [PrivProtocol.DES, PrivProtocol.AES, PrivProtocol.AES192, PrivProtocol.AES256]
)
def test_privacy_round_trips(priv: PrivProtocol) -> None:
    keys = localized(UsmUser("ops", AuthProtocol.SHA, "authpass123", priv, "privpass123"), ENGINE)
    plaintext = b"scoped pdu \x00\x01" * 20
    ciphertext, salt = keys.encrypt(plaintext, 5, 1234)
    assert len(salt) == 8
    assert ciphertext[: len(plaintext)] != plaintext
    decrypted = keys.decrypt(ciphertext, salt, 5, 1234)
    assert decrypted[: len(plaintext)] == plaintext
    if priv is PrivProtocol.DES:
        assert len(ciphertext) % 8 == 0
        assert salt[:4] == (5).to_bytes(4, "big")
    else:
        assert len(ciphertext) == len(plaintext)  # CFB needs no padding
    assert keys.encrypt(plaintext, 5, 1234)[1] != salt  # never the same salt twice


def test_bad_privacy_parameters_are_decode_errors() -> None:
    keys = localized(
        UsmUser("ops", AuthProtocol.SHA, "authpass123", PrivProtocol.DES, "privpass123"), ENGINE
    )
    with pytest.raises(SnmpDecodeError, match="8 octets"):
        keys.decrypt(bytes(16), b"salt", 1, 1)
    with pytest.raises(SnmpDecodeError, match="whole number"):
        keys.decrypt(bytes(15), bytes(8), 1, 1)


def test_users_refuse_impossible_levels_and_hide_passwords() -> None:
    with pytest.raises(ValueError, match="privacy needs authentication"):
        UsmUser("ops", priv=PrivProtocol.AES, priv_password="privpass123")
    with pytest.raises(ValueError, match="needs a password"):
        UsmUser("ops", AuthProtocol.SHA)
    with pytest.raises(ValueError, match="octets"):
        UsmUser("x" * 33)
    user = UsmUser("ops", AuthProtocol.SHA, "secret-auth", PrivProtocol.AES, "secret-priv")
    assert "secret" not in repr(user)
    assert user.level is SecurityLevel.AUTH_PRIV
    assert UsmUser("ops", AuthProtocol.MD5, "authpass123").level is SecurityLevel.AUTH_NO_PRIV
    assert UsmUser("ops").level is SecurityLevel.NO_AUTH_NO_PRIV


def sealed(keys: LocalizedUser | None, flags: int) -> bytes:
    pdu = encode_pdu(
        PduType.GET_REQUEST, 77, 0, 0, encode_request_varbind((1, 3, 6, 1, 2, 1, 1, 3, 0))
    )
    return seal(
        msg_id=77,
        max_size=65507,
        flags=flags | FLAG_REPORTABLE,
        user_name=b"ops",
        keys=keys,
        engine_id=ENGINE,
        boots=3,
        engine_time=1000,
        scoped_pdu=encode_scoped_pdu(ENGINE, b"", pdu),
    )


@pytest.mark.parametrize("flags", [0, FLAG_AUTH, FLAG_AUTH | FLAG_PRIV])
def test_seal_and_unseal_at_every_level(flags: int) -> None:
    user = UsmUser("ops", AuthProtocol.SHA256, "authpass123", PrivProtocol.AES, "privpass123")
    keys = localized(user, ENGINE)
    data = sealed(keys if flags else None, flags)
    message = decode_v3_message(data)
    assert (message.msg_id, message.flags & 3) == (77, flags)
    assert message.security[:4] == (ENGINE, 3, 1000, b"ops")
    scoped = decode_scoped_pdu(unseal(message, data, keys))
    assert scoped.context_engine_id == ENGINE
    assert scoped.pdu.request_id == 77  # type: ignore[union-attr]


def test_any_flipped_bit_fails_authentication() -> None:
    keys = localized(UsmUser("ops", AuthProtocol.SHA, "authpass123"), ENGINE)
    data = bytearray(sealed(keys, FLAG_AUTH))
    data[-3] ^= 0x01
    message = decode_v3_message(bytes(data))
    with pytest.raises(SnmpAuthError) as caught:
        unseal(message, bytes(data), keys)
    assert caught.value.reason == "wrongDigests"
    assert not caught.value.retryable


def test_another_key_fails_authentication() -> None:
    good = localized(UsmUser("ops", AuthProtocol.SHA, "authpass123"), ENGINE)
    wrong = localized(UsmUser("ops", AuthProtocol.SHA, "authpass124"), ENGINE)
    data = sealed(good, FLAG_AUTH)
    message = decode_v3_message(data)
    assert good.verify(data, message.auth_offset, message.security.auth_params)
    assert not wrong.verify(data, message.auth_offset, message.security.auth_params)


def test_wrong_privacy_key_gives_garbage_not_a_crash() -> None:
    good = localized(UsmUser("ops", AuthProtocol.SHA, "a" * 8, PrivProtocol.AES, "p" * 8), ENGINE)
    wrong = localized(UsmUser("ops", AuthProtocol.SHA, "a" * 8, PrivProtocol.AES, "q" * 8), ENGINE)
    data = sealed(good, FLAG_AUTH | FLAG_PRIV)
    message = decode_v3_message(data)
    with pytest.raises(SnmpDecodeError):
        decode_scoped_pdu(unseal(message, data, wrong))


def test_engine_time_estimate_moves_with_the_clock_and_only_forward() -> None:
    engine = EngineTime(ENGINE, boots=2, engine_time=100, now=1000.0)
    assert engine.current(1010.5) == (2, 110)
    assert engine.accept(2, 111, 1011.0)  # newer: adopted
    assert engine.current(1011.0) == (2, 111)
    assert engine.accept(2, 111 - TIME_WINDOW + 5, 1011.0)  # older but inside the window
    assert engine.current(1011.0) == (2, 111)
    assert not engine.accept(2, 111 - TIME_WINDOW - 5, 1011.0)  # a replay from long ago
    assert not engine.accept(1, 5000, 1011.0)  # an earlier boot
    assert engine.accept(3, 4, 1012.0)  # the agent rebooted: adopt
    assert engine.current(1013.0) == (3, 5)
    engine.resync(3, 1, 2000.0)
    assert engine.current(2000.0) == (3, 1)
