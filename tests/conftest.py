"""Shared fixtures: every registered engine, real tmpfs mounts, and small builders used
across test modules."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import deephw


def skip_unless_capable(engine_cls: type[deephw.Engine], capabilities: tuple[str, ...]) -> None:
    """Skip the test, with the engine's declared reason, when it lacks a capability."""
    for capability in capabilities:
        reason = engine_cls.capabilities.lacks(capability)
        if reason is not None:
            pytest.skip(f"the {engine_cls.name} engine lacks {capability}: {reason}")


@pytest.fixture(params=deephw.engine_names())
def engine(request: pytest.FixtureRequest) -> deephw.Engine:
    """One instance of each registered engine (numpy, numba, brian2); a test marked
    ``needs("circuit_noise")`` (any :class:`deephw.engines.Capabilities` field) is
    skipped, with the engine's declared reason, on engines that lack it."""
    engine_cls = deephw.engines.engine_class(request.param)
    for marker in request.node.iter_markers("needs"):
        skip_unless_capable(engine_cls, marker.args)
    return deephw.get_engine(request.param)


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator, so every random test input is reproducible."""
    return np.random.default_rng(20200615)


@contextlib.contextmanager
def mount_tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A real tmpfs mounted at ``where`` (made here) for the block, then unmounted.

    Mounting needs root, which the test machines and CI have (chmod does not make a
    folder read-only for root, so read-only and full locations need a real file system);
    elsewhere the test is skipped with that reason, and its monkeypatched variant runs.
    """
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root; the monkeypatched variants still run")
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


@pytest.fixture
def tmpfs() -> Callable[[Path, str], contextlib.AbstractContextManager[Path]]:
    """:func:`mount_tmpfs`, for ``with tmpfs(tmp_path / "ro", "ro,size=1m") as ro:``."""
    return mount_tmpfs


@pytest.fixture(scope="module")
def dask_client() -> Iterator[object]:
    """A Dask LocalCluster of 2 single-threaded worker processes on 127.0.0.1 and its
    client (one per test module), shut down after."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
