"""Engines that run the neuron dynamics; importing this package registers them."""

from deephw.engines import numpy_engine  # noqa: F401  (registers "numpy")
from deephw.engines.base import Engine, engine_names, get_engine, register_engine

__all__ = ["Engine", "engine_names", "get_engine", "register_engine"]
