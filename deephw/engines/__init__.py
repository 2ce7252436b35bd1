"""Engines that run the neuron dynamics; importing this package registers them."""

from deephw.engines import brian2_engine, numpy_engine  # noqa: F401  (register "brian2", "numpy")
from deephw.engines.base import Engine, engine_names, get_engine, register_engine

__all__ = ["Engine", "engine_names", "get_engine", "register_engine"]
