"""The SMTP dialogue up to STARTTLS, on a raw socket.

Spoken by hand rather than with ``smtplib`` so the TLS handshake can carry the MX host name
(SNI) while connecting to one particular address of it, and so nothing the server sends before
the handshake is silently accepted (STARTTLS command injection).
"""

from __future__ import annotations

import contextlib
import socket
import time

_MAX_REPLY_BYTES = 65_536


class ProbeError(Exception):
    """A probe step failed; the message is the reason shown in the report."""


class _Lines:
    """Reads SMTP replies from a plain socket, keeping track of bytes read ahead."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.buffer = b""
        # The socket timeout bounds each read; this bounds a server that drips bytes slowly.
        self.deadline = deadline

    def reply(self) -> tuple[int, list[str]]:
        """One (possibly multi-line) reply: its code and the text of each line."""
        lines: list[str] = []
        while True:
            while b"\n" not in self.buffer:
                if len(self.buffer) > _MAX_REPLY_BYTES:
                    raise ProbeError("the SMTP server sent an over-long reply")
                if time.monotonic() > self.deadline:
                    raise ProbeError("the SMTP server is too slow to answer")
                chunk = self.sock.recv(4096)
                if not chunk:
                    raise ProbeError("the SMTP server closed the connection")
                self.buffer += chunk
            raw, _, self.buffer = self.buffer.partition(b"\n")
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if len(line) < 3 or not line[:3].isdigit():
                raise ProbeError(f"the SMTP server sent a malformed reply {line[:60]!r}")
            lines.append(line[4:])
            if len(line) == 3 or line[3] != "-":
                return int(line[:3]), lines
            if len(lines) > 200:
                raise ProbeError("the SMTP server sent an over-long reply")


def smtp_to_starttls(sock: socket.socket, ehlo_name: str, timeout: float) -> tuple[bool, str]:
    """Greeting, EHLO, STARTTLS: ``(True, banner)`` when TLS may start, ``(False, banner)``
    when STARTTLS is not offered. The whole dialogue takes at most 3 x ``timeout``."""
    reader = _Lines(sock, time.monotonic() + 3 * timeout)
    code, greeting = reader.reply()
    banner = greeting[0] if greeting else ""
    if code != 220:
        raise ProbeError(f"the SMTP server greeted with {code} {banner[:80]!r}")
    sock.sendall(f"EHLO {ehlo_name}\r\n".encode("ascii"))
    code, features = reader.reply()
    if code != 250:
        raise ProbeError(f"the SMTP server answered EHLO with {code}")
    if not any(f.strip().upper().split(" ")[0] == "STARTTLS" for f in features[1:]):
        quit_smtp(sock)
        return False, banner
    sock.sendall(b"STARTTLS\r\n")
    code, text = reader.reply()
    if code != 220:
        raise ProbeError(f"the SMTP server answered STARTTLS with {code} {' '.join(text)[:80]!r}")
    if reader.buffer:
        raise ProbeError(
            "the SMTP server sent data after agreeing to STARTTLS (command injection risk)"
        )
    return True, banner


def quit_smtp(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(b"QUIT\r\n")
