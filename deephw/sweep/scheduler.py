"""Reaching a Dask scheduler given by address, safely and within a deadline.

``distributed`` trusts the peer it connects to: it waits without limit for the peer's
handshake, and reads the first eight bytes it gets as the length of a message to
allocate. An address that answers but is not a Dask scheduler (a web server, a listener
that never replies, one that sends noise) would therefore hang a sweep or make it
allocate exabytes. So the address is first checked for form (:func:`parse_address`),
then the peer is probed with a plain socket (:func:`probe`): it must answer a Dask
client's handshake with a Dask handshake of bounded size, within the deadline. Only
then is a ``distributed.Client`` made, in a thread that is abandoned if the deadline
passes (:func:`open_client`). Every failure is one :class:`~deephw.errors.ConfigError`
naming ``--scheduler`` and the address.
"""

from __future__ import annotations

import ipaddress
import pickle
import re
import socket
import struct
import sys
import threading
import time
from typing import Any

from deephw.errors import ConfigError, quote

FIELD = "--scheduler"
"""The option the address comes from, named in every error."""

SCHEME = "tcp"
"""The only transport accepted: others need set-up (TLS certificates, UCX) deephw does not do."""

DEFAULT_PORT = 8786
"""Port of a Dask scheduler when the address gives none (Dask's own default)."""

MAX_HANDSHAKE_BYTES = 64 * 1024
"""Largest handshake accepted from the peer; a Dask handshake is under 100 bytes."""

EXAMPLE = "tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786"

_LENGTH = struct.Struct("Q")  # distributed's frame lengths: native 8-byte unsigned
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")


def error(address: str, reason: str) -> ConfigError:
    """The one-line error about ``address``: ``--scheduler = 'ADDRESS': REASON``."""
    return ConfigError("", FIELD, address, reason)


def parse_address(address: str) -> tuple[str, int]:
    """``(host, port)`` of a scheduler address ``[tcp://]HOST[:PORT]``.

    ``HOST`` is a host name, an IPv4 address or an IPv6 address in brackets
    (``tcp://[::1]:8786``); ``PORT`` defaults to :data:`DEFAULT_PORT`.

    Raises
    ------
    deephw.errors.ConfigError
        Naming ``--scheduler``, the address and what is wrong with it.
    """
    if not isinstance(address, str) or not address.strip():
        raise error(address, f"is empty; expected {EXAMPLE}")
    scheme, sep, location = address.partition("://")
    if not sep:
        scheme, location = SCHEME, address
    if scheme.lower() != SCHEME:
        raise error(address, f"scheme {quote(scheme)} is not supported; expected {EXAMPLE}")
    if location.startswith("["):
        inside, bracket, rest = location[1:].partition("]")
        if not bracket:
            raise error(address, f"no closing ']' after the IPv6 address; expected {EXAMPLE}")
        try:
            ipaddress.IPv6Address(inside)
        except ValueError:
            raise error(address, f"{quote(inside)} is not an IPv6 address") from None
        host = inside
        if rest and not rest.startswith(":"):
            raise error(address, f"unexpected {quote(rest)} after the host; expected {EXAMPLE}")
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text = location.rpartition(":")
        if not colon:
            host, port_text = location, None
        if ":" in host:
            raise error(
                address,
                f"{quote(host)} is not a host name or address (an IPv6 address goes in "
                "brackets: tcp://[::1]:8786)",
            )
        if not host:
            raise error(address, f"no host; expected {EXAMPLE}")
        if len(host) > 253 or not _HOSTNAME.fullmatch(host):
            raise error(address, f"{quote(host)} is not a host name or address")
    if port_text is None:
        return host, DEFAULT_PORT
    if not re.fullmatch(r"[0-9]{1,5}", port_text) or not 1 <= int(port_text) <= 65535:
        raise error(address, f"port {quote(port_text)} is not a number from 1 to 65535")
    return host, int(port_text)


def _handshake() -> bytes:
    """A Dask client's handshake message, as ``distributed`` would send it."""
    from distributed.protocol.core import dumps
    from distributed.protocol.utils import pack_frames

    info = {
        "compression": None,
        "python": tuple(sys.version_info)[:3],
        "pickle-protocol": pickle.HIGHEST_PROTOCOL,
    }
    body = pack_frames(dumps(info))
    return _LENGTH.pack(len(body)) + body


class _NotASchedulerError(Exception):
    """The peer did not answer as a Dask scheduler; the message says how."""


def _receive(sock: socket.socket, size: int, deadline: float, timeout: float) -> bytes:
    """Exactly ``size`` bytes from ``sock``, or :class:`_NotASchedulerError` by ``deadline``."""
    data = bytearray()
    while len(data) < size:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _NotASchedulerError(f"it sent no Dask handshake within {timeout:g} s")
        sock.settimeout(left)
        try:
            chunk = sock.recv(min(size - len(data), 65536))
        except TimeoutError:
            raise _NotASchedulerError(f"it sent no Dask handshake within {timeout:g} s") from None
        if not chunk:
            raise _NotASchedulerError("it closed the connection without a Dask handshake")
        data += chunk
    return bytes(data)


def _is_handshake(body: bytes) -> bool:
    """Whether ``body`` (a message without its length) holds a Dask handshake."""
    import msgpack

    if len(body) < _LENGTH.size:
        return False
    (n_frames,) = _LENGTH.unpack_from(body)
    if not 1 <= n_frames <= (len(body) - _LENGTH.size) // _LENGTH.size:
        return False
    lengths = struct.unpack_from(f"{n_frames}Q", body, _LENGTH.size)
    start = _LENGTH.size * (1 + n_frames)
    if start + sum(lengths) != len(body):
        return False
    for length in lengths:
        try:
            info = msgpack.unpackb(body[start : start + length], raw=False, strict_map_key=False)
        except Exception:  # noise: any decoding error means not a handshake
            info = None
        if isinstance(info, dict) and "pickle-protocol" in info:
            return True
        start += length
    return False


def probe(host: str, port: int, deadline: float, timeout: float) -> None:
    """Check that ``host:port`` answers a Dask client's handshake with its own.

    Reads at most :data:`MAX_HANDSHAKE_BYTES` and returns by ``deadline``.

    Raises
    ------
    _NotASchedulerError
        Saying what the peer did instead.
    OSError
        If no connection could be made.
    """
    left = max(deadline - time.monotonic(), 0.001)
    with socket.create_connection((host, port), timeout=left) as sock:
        sock.sendall(_handshake())
        header = _receive(sock, _LENGTH.size, deadline, timeout)
        (size,) = _LENGTH.unpack(header)
        if not _LENGTH.size <= size <= MAX_HANDSHAKE_BYTES:
            raise _NotASchedulerError(
                f"it answered {quote(header)}..., not a Dask handshake (is it a Dask scheduler?)"
            )
        body = _receive(sock, size, deadline, timeout)
        if not _is_handshake(body):
            raise _NotASchedulerError(
                f"it answered {quote(header + body[:24])}..., not a Dask handshake "
                "(is it a Dask scheduler?)"
            )


def open_client(address: str, timeout: float) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address``.

    The address is checked, the peer probed (:func:`probe`) and the client made, all
    within ``timeout`` seconds (plus a second of grace to give up the client's thread).

    Raises
    ------
    deephw.errors.ConfigError
        Naming ``--scheduler`` and the address: malformed, unreachable, not a Dask
        scheduler, or no answer in time.
    """
    host, port = parse_address(address)
    deadline = time.monotonic() + timeout
    outcome: dict[str, Any] = {}
    lock = threading.Lock()
    abandoned = False

    def attempt() -> None:
        try:
            probe(host, port, deadline, timeout)
            from distributed import Client

            left = max(deadline - time.monotonic(), 1.0)
            host_text = f"[{host}]" if ":" in host else host
            client = Client(f"{SCHEME}://{host_text}:{port}", timeout=left)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc
            return
        with lock:
            if abandoned:  # the caller gave up meanwhile: do not leak the connection
                client.close()
            else:
                outcome["client"] = client

    thread = threading.Thread(target=attempt, name="deephw-connect", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    with lock:
        if thread.is_alive() and "client" not in outcome:
            abandoned = True
            raise error(address, f"no Dask scheduler answered within {timeout:g} s")
    if "client" in outcome:
        return outcome["client"]
    exc = outcome["error"]
    if isinstance(exc, _NotASchedulerError):
        raise error(address, f"not a Dask scheduler: {exc}")
    if isinstance(exc, socket.gaierror):
        raise error(address, f"cannot resolve host {quote(host)} ({exc.strerror})")
    if isinstance(exc, TimeoutError):
        raise error(address, f"no connection within {timeout:g} s")
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        raise error(address, f"cannot reach a Dask scheduler there ({reason})")
    if isinstance(exc, Exception):
        raise error(address, f"cannot connect to the Dask scheduler ({type(exc).__name__}: {exc})")
    raise exc
