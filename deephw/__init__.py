"""deephw: a co-simulator for analog chips that learn with DirEcted Equilibrium Propagation."""

from deephw import analysis, model, tasks, topology
from deephw.config import RunConfig, load
from deephw.engines import Engine, engine_names, get_engine, register_engine
from deephw.errors import ConfigError, DeephwError, DivergenceError
from deephw.training import TrainResult, evaluate, train

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DeephwError",
    "DivergenceError",
    "Engine",
    "RunConfig",
    "TrainResult",
    "analysis",
    "engine_names",
    "evaluate",
    "get_engine",
    "load",
    "model",
    "register_engine",
    "tasks",
    "topology",
    "train",
]
