"""``deephw sweep --scheduler ADDRESS``: a malformed address, or one that answers but is
not a Dask scheduler, is one line naming the option and the address, in bounded time,
and nothing is written. The peers are real listeners on 127.0.0.1."""

from __future__ import annotations

import http.server
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from deephw.errors import ConfigError
from deephw.sweep import execute, scheduler
from deephw.sweep.cli import main

pytest.importorskip("distributed")

BOUND_S = 60.0
"""Every case must end within this (the connection is bounded to about 30 s)."""


def write_sweep(folder: Path) -> Path:
    path = folder / "sweep.yaml"
    data = {"base": {"task": {"name": "XOR"}, "training": {"epochs": 5, "seeds": 1}}}
    path.write_text(yaml.safe_dump({**data, "axes": {"learning.lr": [5.0, 10.0]}}))
    return path


def run_sweep_cli(tmp_path: Path, address: str, capsys) -> tuple[int, str, float]:
    """Run the sweep command against ``address``: exit code, stderr, seconds."""
    out = tmp_path / "out"
    start = time.monotonic()
    code = main([str(write_sweep(tmp_path)), "--out", str(out), "--scheduler", address, "--quiet"])
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    assert not out.exists(), "nothing may be written"
    return code, err, elapsed


def assert_one_line(err: str, address: str) -> str:
    """The error is a single line naming --scheduler and the address."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert f"--scheduler = {address!r}" in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("tcp://", "no host"),
        ("foo:bar:baz", "'foo:bar' is not a host name or address"),
        ("tcp://host:99999", "port '99999' is not a number from 1 to 65535"),
        ("tcp://host:http", "port 'http' is not a number"),
        ("tcp://host:0", "port '0' is not a number from 1 to 65535"),
        ("ucx://127.0.0.1:8786", "scheme 'ucx' is not supported"),
        ("http://127.0.0.1:8787", "scheme 'http' is not supported"),
        ("tcp://[::1:8786", "no closing ']'"),
        ("tcp://[zz]:8786", "'zz' is not an IPv6 address"),
        ("tcp://bad_host!:8786", "'bad_host!' is not a host name or address"),
        ("", "is empty"),
    ],
)
def test_a_malformed_address_is_one_line_before_any_work(tmp_path, capsys, address, reason):
    code, err, elapsed = run_sweep_cli(tmp_path, address, capsys)
    assert code == 2
    assert reason in assert_one_line(err, address)
    assert elapsed < 5.0  # refused before the sweep is even validated


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("tcp://127.0.0.1:8786", ("127.0.0.1", 8786)),
        ("127.0.0.1:9000", ("127.0.0.1", 9000)),
        ("tcp://scheduler.example.org", ("scheduler.example.org", 8786)),
        ("TCP://node-1:1", ("node-1", 1)),
        ("tcp://[::1]:8786", ("::1", 8786)),
        ("[fe80::1]", ("fe80::1", 8786)),
    ],
)
def test_well_formed_addresses_parse(address, expected):
    assert scheduler.parse_address(address) == expected


class QuietHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    """A plain web server on 127.0.0.1, in a thread. It waits for a request line, which
    a Dask handshake never completes: the probe runs into its deadline."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def listener(answer: bytes | None) -> tuple[str, socket.socket, threading.Event]:
    """A TCP listener on 127.0.0.1 that accepts, sends ``answer`` (if any), then holds
    the connection open without a word until told to stop."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        with server:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                if answer is not None:
                    conn.sendall(answer)
                stop.wait(120)

    threading.Thread(target=serve, daemon=True).start()
    return f"127.0.0.1:{server.getsockname()[1]}", server, stop


@pytest.fixture
def peer(request) -> Iterator[str]:
    address, server, stop = listener(request.param)
    try:
        yield address
    finally:
        stop.set()
        server.close()


def test_a_web_server_is_not_a_scheduler(tmp_path, capsys, monkeypatch, http_server):
    monkeypatch.setattr(execute, "CONNECT_TIMEOUT", 5.0)
    code, err, elapsed = run_sweep_cli(tmp_path, http_server, capsys)
    assert code == 2 and elapsed < 5.0 + 2.0
    assert "not a Dask scheduler" in assert_one_line(err, http_server)


@pytest.mark.parametrize("peer", [None], indirect=True, ids=["silent"])
def test_a_listener_that_never_answers_ends_within_the_bound(tmp_path, capsys, peer):
    assert execute.CONNECT_TIMEOUT == 30.0  # the real bound, not a shortened one
    code, err, elapsed = run_sweep_cli(tmp_path, peer, capsys)
    assert code == 2
    assert 29.0 < elapsed < BOUND_S
    line = assert_one_line(err, peer)
    assert "not a Dask scheduler: it sent no Dask handshake within 30 s" in line


HUGE = struct.pack("Q", 2**62)  # a frame length distributed would try to allocate


@pytest.mark.parametrize(
    "peer",
    [os.urandom(4096), HUGE + os.urandom(64), struct.pack("Q", 40) + os.urandom(40)],
    indirect=True,
    ids=["random-bytes", "huge-length", "small-garbage"],
)
def test_a_peer_sending_garbage_is_refused_at_once_without_allocating(tmp_path, capsys, peer):
    code, err, elapsed = run_sweep_cli(tmp_path, peer, capsys)
    assert code == 2 and elapsed < 10.0
    line = assert_one_line(err, peer)
    assert "not a Dask scheduler: it answered b" in line and "not a Dask handshake" in line


@pytest.mark.parametrize(
    "peer", [struct.pack("Q", 1000) + b"\x01" + bytes(7)], indirect=True, ids=["short"]
)
def test_a_peer_that_closes_mid_handshake_or_stalls_is_refused(tmp_path, capsys, monkeypatch, peer):
    monkeypatch.setattr(execute, "CONNECT_TIMEOUT", 3.0)
    code, err, elapsed = run_sweep_cli(tmp_path, peer, capsys)
    assert code == 2 and elapsed < 3.0 + 2.0
    assert "it sent no Dask handshake within 3 s" in assert_one_line(err, peer)


def test_a_closed_port_and_an_unknown_host_are_one_line(tmp_path, capsys):
    code, err, _ = run_sweep_cli(tmp_path, "tcp://127.0.0.1:1", capsys)
    assert code == 2
    assert "cannot reach a Dask scheduler there" in assert_one_line(err, "tcp://127.0.0.1:1")
    code, err, _ = run_sweep_cli(tmp_path, "tcp://no-such-host.invalid:8786", capsys)
    assert code == 2
    assert "cannot resolve host" in assert_one_line(err, "tcp://no-such-host.invalid:8786")


def test_a_client_that_hangs_after_the_probe_is_abandoned_at_the_deadline(monkeypatch):
    """Even if distributed itself never returns, the caller gets its answer in time."""
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(scheduler, "probe", lambda *args: None)
    release = threading.Event()
    closed = threading.Event()

    class StuckClient:
        def __init__(self, *args, **kwargs) -> None:
            release.wait(60)

        def close(self) -> None:
            closed.set()

    monkeypatch.setattr(distributed, "Client", StuckClient)
    start = time.monotonic()
    try:
        with pytest.raises(ConfigError, match="no Dask scheduler answered within 1 s"):
            scheduler.open_client("tcp://127.0.0.1:8786", 1.0)
        assert time.monotonic() - start < 3.0
    finally:
        release.set()
    assert closed.wait(5)  # a client made after the caller gave up is closed, not leaked
