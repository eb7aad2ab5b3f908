"""Real ICMP faults on loopback: nftables drops, and late echo replies sent by the lab.

The kernel answers pings to every address in 127.0.0.0/8 by itself, so a simulated device
can only stop answering if the kernel is told to drop. :class:`Nftables` keeps one table
(``inet branchops_lab`` by default) that the lab rewrites, atomically, whenever a fault
changes: echo requests and packets to the lab's own ports (SNMP, NTP, the TCP services) of a
down (or absent) device are dropped, a share of echo requests to
a lossy device is dropped (``numgen random mod 100 < N``), and the kernel's own echo replies
from a slow device are dropped so that :class:`DelayedEcho` can answer in its place, late.
The table is deleted when no rule is needed any more, and when the lab stops.

nftables cannot delay packets (that is netem's job, a queueing discipline on the whole
loopback interface, which would slow every process on the machine). Instead the lab reads
echo requests on a raw socket and sends the reply itself after the fault's delay; its
replies carry a firewall mark (SO_MARK) that the drop rule lets through. Both need root
(CAP_NET_ADMIN and CAP_NET_RAW); without it, ICMP faults are reported as unavailable and the
other protocols still follow the faults.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import socket
import struct
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

log = logging.getLogger(__name__)

DEFAULT_TABLE: Final = "branchops_lab"
REPLY_MARK: Final = 0x4C4142  # "LAB": replies the lab sends itself
SO_MARK: Final = getattr(socket, "SO_MARK", 36)  # Linux value; Python 3.11 lacks it
_ECHO_REQUEST, _ECHO_REPLY = 8, 0
_RECV_BATCH: Final = 256
_TIMEOUT_S: Final = 10.0


@dataclass(frozen=True)
class IcmpRules:
    """What the kernel must do with ICMP and traffic to the estate's addresses."""

    down: frozenset[str] = frozenset()  # drop pings and the lab's ports to these
    # Only the lab's ports: another process (a second lab in a parallel test, the engine's
    # own sockets) may use the same 127.x addresses on other ports.
    udp_ports: frozenset[int] = frozenset()
    tcp_ports: frozenset[int] = frozenset()
    loss: Mapping[str, int] | None = None  # drop this percentage of echo requests
    slow: frozenset[str] = frozenset()  # the lab answers their pings, late

    @property
    def empty(self) -> bool:
        return not (self.down or self.loss or self.slow)


class Nftables:
    """One nftables table the lab owns; ``available`` says whether the kernel lets us."""

    def __init__(self, table: str = DEFAULT_TABLE, *, enabled: bool = True) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", table):
            raise ValueError(f"not an nftables table name: {table!r}")
        self.table = table
        self.available = False
        self.reason = "turned off (--no-nft or BRANCHOPS_LAB_NFT=0)"
        self._installed = False
        self._binary = shutil.which("nft") if enabled else None
        if enabled:
            self._probe()

    def _probe(self) -> None:
        if self._binary is None:
            self.reason = "the nft command is not installed (Debian package nftables)"
            return
        if hasattr(os, "geteuid") and os.geteuid() != 0:
            self.reason = "not running as root (nftables needs CAP_NET_ADMIN)"
            return
        # Creating and deleting the table proves we may; it also removes one left behind
        # by a lab that was killed.
        error = self._run(f"table inet {self.table}\ndelete table inet {self.table}\n")
        if error:
            self.reason = f"nft refused: {error}"
            return
        self.available = True
        self.reason = f"nftables table inet {self.table}"

    def apply(self, rules: IcmpRules) -> str:
        """Make the table say ``rules``; returns an error text, or "" when done."""
        if not self.available:
            return self.reason
        if rules.empty:
            return self.remove()
        error = self._run(self.ruleset(rules))
        if not error:
            self._installed = True
        return error

    def remove(self) -> str:
        if not self._installed:
            return ""
        error = self._run(f"table inet {self.table}\ndelete table inet {self.table}\n")
        if not error:
            self._installed = False
        return error

    def ruleset(self, rules: IcmpRules) -> str:
        """The whole table as one nft script: replaced atomically, never edited rule by rule."""
        lines = [f"table inet {self.table}", f"delete table inet {self.table}"]
        lines.append(f"table inet {self.table} {{")
        if rules.down:
            lines.append(f"  set down {{ type ipv4_addr; elements = {{ {_join(rules.down)} }} }}")
        if rules.slow:
            lines.append(f"  set slow {{ type ipv4_addr; elements = {{ {_join(rules.slow)} }} }}")
        lines.append("  chain input {")
        lines.append("    type filter hook input priority -10; policy accept;")
        if rules.down:
            lines.append("    ip daddr @down icmp type echo-request drop")
            for protocol, ports in (("udp", rules.udp_ports), ("tcp", rules.tcp_ports)):
                if ports:
                    listed = ", ".join(map(str, sorted(ports)))
                    lines.append(f"    ip daddr @down {protocol} dport {{ {listed} }} drop")
        for address, percent in sorted((rules.loss or {}).items()):
            # nft refuses "< 100" after "mod 100" (the value can only be 0..99)
            chance = f"numgen random mod 100 < {percent} " if percent < 100 else ""
            lines.append(f"    ip daddr {address} icmp type echo-request {chance}drop")
        lines.append("  }")
        if rules.slow:
            lines.append("  chain output {")
            lines.append("    type filter hook output priority -10; policy accept;")
            lines.append(
                f"    ip saddr @slow icmp type echo-reply meta mark != {REPLY_MARK:#x} drop"
            )
            lines.append("  }")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _run(self, script: str) -> str:
        assert self._binary is not None
        try:
            done = subprocess.run(  # noqa: S603 - our own script, no shell
                [self._binary, "-f", "-"],
                input=script,
                capture_output=True,
                text=True,
                timeout=_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        return done.stderr.strip().splitlines()[0] if done.returncode else ""


def _join(addresses: frozenset[str]) -> str:
    return ", ".join(sorted(addresses, key=socket.inet_aton))


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_reply(request: bytes) -> tuple[bytes, str] | None:
    """The IP packet answering an IPv4 echo request (header included), and where it goes;
    None for anything else, or for anything from or to outside 127.0.0.0/8."""
    if len(request) < 28 or request[0] >> 4 != 4:
        return None
    header = (request[0] & 0x0F) * 4
    if len(request) < header + 8 or request[9] != socket.IPPROTO_ICMP:
        return None
    source, destination = request[12:16], request[16:20]
    if source[0] != 127 or destination[0] != 127 or request[header] != _ECHO_REQUEST:
        return None
    icmp = bytearray(request[header:])
    icmp[0], icmp[2:4] = _ECHO_REPLY, b"\0\0"
    icmp[2:4] = struct.pack("!H", _checksum(bytes(icmp)))
    ip = bytearray(
        struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 0, 0, 64, 1, 0, destination, source)
    )
    ip[10:12] = struct.pack("!H", _checksum(bytes(ip)))
    return bytes(ip) + bytes(icmp), socket.inet_ntoa(source)


class DelayedEcho:
    """Answers pings to slow devices after their delay (``delay_of(address)`` in seconds,
    None when the address is not slow). Open only while some device is slow."""

    def __init__(self, delay_of: Callable[[str], float | None]) -> None:
        self._delay_of = delay_of
        self._sock: socket.socket | None = None
        self.answered = 0

    @property
    def running(self) -> bool:
        return self._sock is not None

    def start(self) -> str:
        """Open the raw socket; returns an error text, or "" when listening."""
        if self._sock is not None:
            return ""
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
            sock.setsockopt(socket.SOL_SOCKET, SO_MARK, REPLY_MARK)
        except OSError as exc:
            return f"raw ICMP socket: {exc.strerror or exc}"
        sock.setblocking(False)
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._on_readable)
        return ""

    def stop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            asyncio.get_running_loop().remove_reader(sock.fileno())
            sock.close()

    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        loop = asyncio.get_running_loop()
        for _ in range(_RECV_BATCH):
            try:
                packet = sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            if len(packet) < 20:
                continue
            delay = self._delay_of(socket.inet_ntoa(packet[16:20]))
            if delay is None:
                continue
            reply = echo_reply(packet)
            if reply is not None:
                loop.call_later(delay, self._send, *reply)

    def _send(self, packet: bytes, to: str) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            sock.sendto(packet, (to, 0))
            self.answered += 1
        except OSError:  # a full buffer: ping shows it as loss, as a congested line would
            log.debug("late echo reply to %s not sent", to, exc_info=True)
