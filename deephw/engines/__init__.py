"""Engines that run the neuron dynamics; importing this package registers them."""

from deephw.engines import brian2_engine, numpy_engine  # noqa: F401  (register "brian2", "numpy")
from deephw.engines.base import Engine, engine_names, get_engine, register_engine
from deephw.engines.in_situ import InSituRequest

__all__ = ["Engine", "InSituRequest", "engine_names", "get_engine", "register_engine"]
