"""Splitting a syslog TCP stream into messages (RFC 6587).

Two framings share the port and a sender may even mix them, so each frame is classified by
its first octets: ``<digits><space>`` is octet counting (section 3.4.1), anything else is
terminated by LF (section 3.4.2; NUL is accepted too, some devices end frames with it).
A message that itself starts with digits ("2024-05-01 10:00:00 fw01 ...", a Huawei line
without PRI) is told apart because a digit run is only a length when a space follows it.
"""

from __future__ import annotations

import re
from typing import Final

_LENGTH = re.compile(rb"([1-9][0-9]{0,9}) ")
_DIGITS_SO_FAR = re.compile(rb"[1-9][0-9]{0,9}")
_TERMINATORS: Final = (b"\n", b"\x00")


class FrameError(Exception):
    """The stream cannot be read further: ``reason`` is "oversized" or "malformed"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FrameDecoder:
    """Incremental: feed it whatever arrived, get the complete messages back."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.failure: str | None = None  # set when the stream cannot be read further
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Complete messages in arrival order. When a frame is longer than ``max_size`` the
        messages before it are still returned and :attr:`failure` says why the sender must
        be disconnected."""
        if self.failure is not None:
            return []
        self._buffer += data
        frames: list[bytes] = []
        while self._buffer:
            try:
                frame = self._next_frame()
            except FrameError as exc:
                self.failure = exc.reason
                self._buffer.clear()
                break
            if frame is None:
                break
            if frame.strip(b"\r\n\x00 "):
                frames.append(frame)
        return frames

    def finish(self) -> bytes | None:
        """What is left at end of stream: an unterminated LF-framed message is accepted
        (senders often omit the last LF); half an octet-counted frame raises FrameError."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        if not rest.strip(b"\r\n\x00 "):
            return None
        if _LENGTH.match(rest) or _DIGITS_SO_FAR.fullmatch(rest):
            raise FrameError("malformed")
        return rest

    def _next_frame(self) -> bytes | None:
        buffer = self._buffer
        length = _LENGTH.match(buffer)
        if length is not None:
            size = int(length.group(1))
            if size > self.max_size:
                raise FrameError("oversized")
            end = length.end() + size
            if len(buffer) < end:
                return None
            frame = bytes(buffer[length.end() : end])
            del buffer[:end]
            return frame
        if _DIGITS_SO_FAR.fullmatch(buffer):
            return None  # a length still arriving, or a line: wait for more
        end = min((i for i in map(buffer.find, _TERMINATORS) if i >= 0), default=-1)
        if end < 0:
            if len(buffer) > self.max_size:
                raise FrameError("oversized")
            return None
        frame = bytes(buffer[:end]).rstrip(b"\r")
        del buffer[: end + 1]
        if len(frame) > self.max_size:
            raise FrameError("oversized")
        return frame
