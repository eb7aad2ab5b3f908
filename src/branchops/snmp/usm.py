"""SNMPv3 User-based Security Model: keys, digests, ciphers and time windows.

RFC 3414 (password to key, key localisation, HMAC-MD5-96, HMAC-SHA-96, DES-CBC, timeliness),
RFC 3826 (AES-128-CFB), RFC 7860 (HMAC-SHA-2), and the AES-192/256 key extension of
draft-blumenthal-aes-usm-04 section 3.1.2.1, which is what net-snmp's AES-192/AES-256 use.

Key derivation hashes a megabyte per password, so derived keys are cached: the password key
per (password, hash) and the localised keys per (user, engine ID). Digests reuse pre-keyed
HMAC states (``hashlib`` objects copied per message), about twice as fast as ``hmac.new``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from functools import lru_cache
from typing import Any, Final

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from branchops.snmp.ber import OCTET_STRING, tlv
from branchops.snmp.errors import SnmpAuthError, SnmpDecodeError
from branchops.snmp.v3 import (
    FLAG_AUTH,
    FLAG_PRIV,
    MAX_USER_NAME,
    UsmSecurityParameters,
    V3Message,
    encode_v3_message,
)

TIME_WINDOW: Final = 150  # seconds, RFC 3414 section 2.2.3
MAX_ENGINE_VALUE: Final = 2**31 - 1
_EXPANSION: Final = 1_048_576  # RFC 3414 A.2: the password is repeated to one megabyte


class AuthProtocol(Enum):
    """Authentication protocols, named as net-snmp's ``-a`` option spells them."""

    NONE = "none"
    MD5 = "MD5"  # HMAC-MD5-96
    SHA = "SHA"  # HMAC-SHA-96
    SHA224 = "SHA-224"  # usmHMAC128SHA224AuthProtocol
    SHA256 = "SHA-256"  # usmHMAC192SHA256AuthProtocol
    SHA384 = "SHA-384"  # usmHMAC256SHA384AuthProtocol
    SHA512 = "SHA-512"  # usmHMAC384SHA512AuthProtocol


class PrivProtocol(Enum):
    """Privacy protocols, named as net-snmp's ``-x`` option spells them."""

    NONE = "none"
    DES = "DES"
    AES = "AES"  # AES-128-CFB, RFC 3826
    AES192 = "AES-192"
    AES256 = "AES-256"


class SecurityLevel(IntEnum):
    """The three security levels, valued as their msgFlags bits."""

    NO_AUTH_NO_PRIV = 0
    AUTH_NO_PRIV = FLAG_AUTH
    AUTH_PRIV = FLAG_AUTH | FLAG_PRIV


# hash name, MAC length on the wire (RFC 3414 6/7, RFC 7860 4.2)
_AUTH: Final[dict[AuthProtocol, tuple[str, int]]] = {
    AuthProtocol.MD5: ("md5", 12),
    AuthProtocol.SHA: ("sha1", 12),
    AuthProtocol.SHA224: ("sha224", 16),
    AuthProtocol.SHA256: ("sha256", 24),
    AuthProtocol.SHA384: ("sha384", 32),
    AuthProtocol.SHA512: ("sha512", 48),
}
_PRIV_KEY_SIZE: Final = {
    PrivProtocol.DES: 16,  # 8 octets of key, then 8 of pre-IV
    PrivProtocol.AES: 16,
    PrivProtocol.AES192: 24,
    PrivProtocol.AES256: 32,
}


@dataclass(frozen=True, slots=True)
class UsmUser:
    """The credentials of one USM user. Passwords are never shown in ``repr``."""

    name: str
    auth: AuthProtocol = AuthProtocol.NONE
    auth_password: str = field(default="", repr=False)
    priv: PrivProtocol = PrivProtocol.NONE
    priv_password: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not self.name or len(self.name.encode()) > MAX_USER_NAME:
            raise ValueError(f"a USM user name has 1 to {MAX_USER_NAME} octets")
        if self.auth is AuthProtocol.NONE and self.priv is not PrivProtocol.NONE:
            raise ValueError("privacy needs authentication (there is no noAuthPriv level)")
        if self.auth is not AuthProtocol.NONE and not self.auth_password:
            raise ValueError("authentication needs a password")
        if self.priv is not PrivProtocol.NONE and not self.priv_password:
            raise ValueError("privacy needs a password")

    @property
    def level(self) -> SecurityLevel:
        if self.priv is not PrivProtocol.NONE:
            return SecurityLevel.AUTH_PRIV
        if self.auth is not AuthProtocol.NONE:
            return SecurityLevel.AUTH_NO_PRIV
        return SecurityLevel.NO_AUTH_NO_PRIV


@lru_cache(maxsize=256)
def password_to_key(password: bytes, auth: AuthProtocol) -> bytes:
    """Ku: the hash of the password repeated to 1,048,576 octets (RFC 3414 A.2, RFC 7860 9.3)."""
    if not password:
        raise ValueError("empty password")
    repeated = password * (_EXPANSION // len(password) + 1)
    return hashlib.new(_AUTH[auth][0], repeated[:_EXPANSION]).digest()


def localize_key(key: bytes, engine_id: bytes, auth: AuthProtocol) -> bytes:
    """Kul = H(Ku || engineID || Ku) (RFC 3414 section 2.6)."""
    return hashlib.new(_AUTH[auth][0], key + engine_id + key).digest()


def extend_key(key: bytes, size: int, auth: AuthProtocol) -> bytes:
    """A localised key lengthened to ``size`` octets by appending the hash of the key so far
    (draft-blumenthal-aes-usm-04 3.1.2.1), for AES-192/256 with a shorter hash."""
    name = _AUTH[auth][0]
    while len(key) < size:
        key += hashlib.new(name, key).digest()
    return key[:size]


# Salts must not repeat under one key: a per-process random start, then a counter.
_salt_counter = itertools.count(secrets.randbits(62))


class LocalizedUser:
    """A user's keys localised to one authoritative engine: signs, verifies, en- and decrypts."""

    __slots__ = ("_cipher_key", "_inner", "_outer", "_pre_iv", "mac_length", "priv", "user")

    def __init__(self, user: UsmUser, engine_id: bytes) -> None:
        self.user = user
        self.priv = user.priv
        self.mac_length = 0
        self._cipher_key = b""
        self._pre_iv = b""
        self._inner: Any = None
        self._outer: Any = None
        if user.auth is AuthProtocol.NONE:
            return
        name, self.mac_length = _AUTH[user.auth]
        auth_key = localize_key(
            password_to_key(user.auth_password.encode(), user.auth), engine_id, user.auth
        )
        self._inner, self._outer = _hmac_states(name, auth_key)
        if user.priv is not PrivProtocol.NONE:
            size = _PRIV_KEY_SIZE[user.priv]
            priv_key = localize_key(
                password_to_key(user.priv_password.encode(), user.auth), engine_id, user.auth
            )
            priv_key = extend_key(priv_key, size, user.auth)
            if user.priv is PrivProtocol.DES:
                self._cipher_key, self._pre_iv = priv_key[:8] * 3, priv_key[8:16]
            else:
                self._cipher_key = priv_key[:size]

    def sign(self, message: bytes) -> bytes:
        """The truncated HMAC of a whole message whose auth parameters are zeros."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        digest: bytes = outer.digest()
        return digest[: self.mac_length]

    def verify(self, data: bytes, offset: int, mac: bytes) -> bool:
        """Whether ``mac`` (found at ``offset`` in ``data``) authenticates the datagram."""
        if len(mac) != self.mac_length:
            return False
        zeroed = data[:offset] + bytes(self.mac_length) + data[offset + self.mac_length :]
        return hmac.compare_digest(self.sign(zeroed), mac)

    def encrypt(self, plaintext: bytes, boots: int, engine_time: int) -> tuple[bytes, bytes]:
        """Ciphertext and msgPrivacyParameters (the salt)."""
        salt_number = next(_salt_counter)
        if self.priv is PrivProtocol.DES:
            salt = boots.to_bytes(4, "big") + (salt_number & 0xFFFFFFFF).to_bytes(4, "big")
            padded = plaintext + bytes(-len(plaintext) % 8)
            return _des(self._cipher_key, self._des_iv(salt), padded, encrypt=True), salt
        salt = (salt_number & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")
        iv = boots.to_bytes(4, "big") + engine_time.to_bytes(4, "big") + salt
        encryptor = Cipher(algorithms.AES(self._cipher_key), CFB(iv)).encryptor()
        return encryptor.update(plaintext) + encryptor.finalize(), salt

    def decrypt(self, ciphertext: bytes, salt: bytes, boots: int, engine_time: int) -> bytes:
        """The plaintext ScopedPDU; SnmpDecodeError when the parameters cannot be right."""
        if len(salt) != 8:
            raise SnmpDecodeError("msgPrivacyParameters must be 8 octets")
        if self.priv is PrivProtocol.DES:
            if len(ciphertext) % 8:
                raise SnmpDecodeError("DES ciphertext is not a whole number of blocks")
            return _des(self._cipher_key, self._des_iv(salt), ciphertext, encrypt=False)
        iv = boots.to_bytes(4, "big") + engine_time.to_bytes(4, "big") + salt
        decryptor = Cipher(algorithms.AES(self._cipher_key), CFB(iv)).decryptor()
        return decryptor.update(ciphertext) + decryptor.finalize()

    def _des_iv(self, salt: bytes) -> bytes:
        mixed = int.from_bytes(self._pre_iv, "big") ^ int.from_bytes(salt, "big")
        return mixed.to_bytes(8, "big")


def _hmac_states(name: str, key: bytes) -> tuple[Any, Any]:
    """Hash objects that have already absorbed ``key ^ ipad`` and ``key ^ opad`` (RFC 2104)."""
    inner = hashlib.new(name)
    block = inner.block_size
    padded = key.ljust(block, b"\x00")
    inner.update(bytes(octet ^ 0x36 for octet in padded))
    outer = hashlib.new(name)
    outer.update(bytes(octet ^ 0x5C for octet in padded))
    return inner, outer


def _des(key: bytes, iv: bytes, data: bytes, *, encrypt: bool) -> bytes:
    # Single DES as three-key 3DES with K1 = K2 = K3: OpenSSL 3 keeps that in its default
    # provider, while plain DES needs the legacy one.
    cipher = Cipher(TripleDES(key), modes.CBC(iv))
    worker = cipher.encryptor() if encrypt else cipher.decryptor()
    return worker.update(data) + worker.finalize()


@lru_cache(maxsize=65_536)
def localized(user: UsmUser, engine_id: bytes) -> LocalizedUser:
    """The user's keys for ``engine_id``, computed once per (user, engine)."""
    return LocalizedUser(user, engine_id)


# ---- messages --------------------------------------------------------------------------------


def seal(
    *,
    msg_id: int,
    max_size: int,
    flags: int,
    user_name: bytes,
    keys: LocalizedUser | None,
    engine_id: bytes,
    boots: int,
    engine_time: int,
    scoped_pdu: bytes,
) -> bytes:
    """A complete v3 datagram: encrypted and signed as ``flags`` ask (keys needed then)."""
    priv_params = b""
    msg_data = scoped_pdu
    mac_length = 0
    if flags & FLAG_AUTH:
        if keys is None or not keys.mac_length:
            raise ValueError("authentication requested without an authentication key")
        mac_length = keys.mac_length
    if flags & FLAG_PRIV:
        assert keys is not None
        ciphertext, priv_params = keys.encrypt(scoped_pdu, boots, engine_time)
        msg_data = tlv(OCTET_STRING, ciphertext)
    security = UsmSecurityParameters(
        engine_id, boots, engine_time, user_name, bytes(mac_length), priv_params
    )
    data, offset = encode_v3_message(
        msg_id=msg_id, max_size=max_size, flags=flags, security=security, msg_data=msg_data
    )
    if mac_length:
        assert keys is not None
        data = data[:offset] + keys.sign(data) + data[offset + mac_length :]
    return data


def unseal(message: V3Message, data: bytes, keys: LocalizedUser) -> bytes:
    """The plaintext ScopedPDU of an authenticated (and maybe encrypted) message.

    Raises SnmpAuthError("wrongDigests") when the digest does not match and
    SnmpDecodeError when the ciphertext cannot be decrypted.
    """
    security = message.security
    if message.flags & FLAG_AUTH and not keys.verify(
        data, message.auth_offset, security.auth_params
    ):
        raise SnmpAuthError("wrongDigests", "message failed authentication (wrong auth key?)")
    if message.flags & FLAG_PRIV:
        return keys.decrypt(
            message.scoped_data, security.priv_params, security.boots, security.time
        )
    return message.scoped_data


class EngineTime:
    """A non-authoritative engine's notion of an agent's boots and time (RFC 3414 2.3, 3.2).

    ``clock`` readings are seconds from any monotonic source; the notion only moves forward.
    """

    __slots__ = ("boots", "engine_id", "latest_time", "synced_at")

    def __init__(self, engine_id: bytes, boots: int, engine_time: int, now: float) -> None:
        self.engine_id = engine_id
        self.boots = boots
        self.latest_time = engine_time
        self.synced_at = now

    def current(self, now: float) -> tuple[int, int]:
        """(boots, estimated engine time) to put in an outgoing message."""
        estimate = self.latest_time + int(now - self.synced_at)
        return self.boots, min(estimate, MAX_ENGINE_VALUE)

    def accept(self, boots: int, engine_time: int, now: float) -> bool:
        """Update from an authenticated message; False when it is outside the time window."""
        if boots > self.boots or (boots == self.boots and engine_time > self.latest_time):
            self.boots, self.latest_time, self.synced_at = boots, engine_time, now
        if self.boots == MAX_ENGINE_VALUE or boots < self.boots:
            return False
        return not (boots == self.boots and engine_time < self.current(now)[1] - TIME_WINDOW)

    def resync(self, boots: int, engine_time: int, now: float) -> None:
        """Adopt the values of an authenticated notInTimeWindow Report unconditionally."""
        self.boots, self.latest_time, self.synced_at = boots, engine_time, now
