"""Engines that run the neuron dynamics; importing this package registers them."""

from deephw.engines import (  # noqa: F401  (register "brian2", "numba", "numpy")
    brian2_engine,
    numba_engine,
    numpy_engine,
)
from deephw.engines.base import (
    Capabilities,
    Engine,
    Relax,
    engine_class,
    engine_names,
    get_engine,
    register_engine,
)
from deephw.pulses import InSituRequest

__all__ = [
    "Capabilities",
    "Engine",
    "InSituRequest",
    "Relax",
    "engine_class",
    "engine_names",
    "get_engine",
    "register_engine",
]
