"""The Brian2 neuron circuit's parts: equations and code strings, the record of a built
network, its direct stepping loop, and the import of Brian2 itself.

Used by :mod:`deephw.engines.brian2_engine`; in this module too, "device" means Brian2's
runtime device, never a memory device.
"""

from __future__ import annotations

import os
import shutil
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from deephw.errors import DeephwError

CODE_TARGETS = ("numpy", "cython")
"""Brian2 code-generation targets the engine supports."""

LOOPS = ("direct", "network")
"""How a relax call advances a circuit; see :class:`Brian2Engine`."""

CACHE_ENV = "DEEPHW_BRIAN2_CACHE"
"""Environment variable naming the folder for compiled Brian2 code."""

DEFAULT_CACHE = ".brian2_cache"
"""Default folder for compiled Brian2 code, relative to the working directory."""

OBJECT_PREFIX = "deephw_circuit"
"""Prefix of the fixed names of the Brian2 objects (the compiled code depends on them)."""

STORED = f"{OBJECT_PREFIX}_built"

_PARAMETERS = """
i_in : 1
leak : 1
nudge : 1
target : 1
sigma : 1
v_min : 1
v_max : 1
"""


def circuit_equations(noise: bool = False, bit_length: int = 0) -> str:
    """The neuron-circuit equation in Brian2 syntax (time constant ``tau``).

    Parameters
    ----------
    noise
        Add the white-noise term ``sigma * xi / sqrt(tau)``.
    bit_length
        With ``bit_length > 0``, the variables of the in-situ coincidences: the previous
        step's activity ``v_prev``, its change ``d``, the factor ``c_in`` (``c_x = c_d``
        of the neuron's chip) and one row-fire ``fx{k}`` and column-fire ``fd{k}`` per
        time slot ``k``.

    Returns
    -------
    str
        Unit-annotated equations of one neuron circuit and its per-neuron parameters.
    """
    drift = "(i_in - leak*v + nudge*(target - v)) / tau"
    if noise:
        drift += " + sigma*xi*tau**-0.5"
    in_situ = ""
    if bit_length:
        fires = "".join(f"fx{k} : 1\nfd{k} : 1\n" for k in range(bit_length))
        in_situ = f"v_prev : 1\nd : 1\nc_in : 1\n{fires}"
    return f"dv/dt = {drift} : 1\n{_PARAMETERS}{in_situ}"


def fire_code(bit_length: int) -> str:
    """Neuron code of one step's in-situ slots: ``fx{k}`` row fires with probability
    ``clip(c_in v, 0, 1)``, ``fd{k}`` column fires with ``clip(c_in |d|, 0, 1)``."""
    rows = [f"fx{k} = int(rand() < clip(c_in*v, 0, 1))" for k in range(bit_length)]
    cols = [f"fd{k} = int(rand() < clip(c_in*abs(d), 0, 1))" for k in range(bit_length)]
    return "\n".join(["d = v - v_prev", *rows, *cols, "v_prev = v"])


def coincidence_code(bit_length: int) -> str:
    """Synapse code adding one step's coincidences to ``up`` (``d_post > 0``) or ``down``."""
    hits = " + ".join(f"fx{k}_pre*fd{k}_post" for k in range(bit_length))
    return f"hits = {hits}\nup += hits*int(d_post > 0)\ndown += hits*int(d_post < 0)"


def default_cache_dir() -> Path:
    """Folder for compiled Brian2 code: ``$DEEPHW_BRIAN2_CACHE`` or ``./.brian2_cache``."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).resolve()


@dataclass
class Circuit:
    """One built Brian2 network of a fixed shape ``(S, B, N, P)``.

    Attributes
    ----------
    shape
        ``(S, B, N, n_clamped, bit_length)``; ``bit_length`` 0: no in-situ objects.
    network, clock, neurons, synapses, monitor
        The Brian2 objects; ``monitor`` records ``v`` after every step while active.
    pre, post
        Within-copy presynaptic and postsynaptic neuron of each synapse of a copy.
    dt
        Current Euler step (dimensionless); the clock step is ``dt * tau``.
    runs
        Number of relax calls executed on this circuit.
    schedules
        Per ``record`` flag, the active objects in the order a ``Network.run`` ran them.
    """

    shape: tuple[int, int, int, int, int]
    network: Any
    clock: Any
    neurons: Any
    synapses: Any
    monitor: Any
    pre: np.ndarray
    post: np.ndarray
    dt: float
    runs: int = 0
    schedules: dict[bool, list] = field(default_factory=dict)


def array(owner: Any, name: str) -> np.ndarray:
    """The live NumPy array behind a Brian2 variable (writes go straight into it)."""
    return owner.variables[name].get_value()


def step(circuit: Circuit, schedule: list, n_steps: int) -> None:
    """Run prepared code objects for ``n_steps`` steps, as ``Network.run``'s loop does."""
    variables = circuit.clock.variables
    timestep = variables["timestep"].get_value()
    t = variables["t"].get_value()
    dt = variables["dt"].get_value()
    runners = [obj.run for obj in schedule]
    for _ in range(n_steps):
        for run in runners:
            run()
        timestep[0] += 1
        t[0] = timestep[0] * dt[0]
    circuit.network.t_ = float(t[0])
    for obj in schedule:
        obj.after_run()


def check_compiler() -> None:
    """Raise a clear error when no C compiler is found for the cython target."""
    compiler = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    if shutil.which(compiler.split()[0]) is None:
        raise DeephwError(
            f"the brian2 engine's cython target needs a C compiler ({compiler.split()[0]!r} "
            "not found) and the Python headers; install them, or use the numpy target "
            "(engine: {name: brian2, target: numpy})"
        )


def import_brian2(target: str, cache_dir: Path) -> tuple[ModuleType, type]:
    """Import Brian2 and the code-object class of ``target`` (cython: set its cache)."""
    try:
        import brian2

        if target == "cython":
            from brian2.codegen.runtime import cython_rt

            codeobj_class = cython_rt.CythonCodeObject
        else:
            from brian2.codegen.runtime import numpy_rt

            codeobj_class = numpy_rt.NumpyCodeObject
    except Exception as exc:  # brian2 < 2.10 raises AttributeError under numpy >= 2.4
        raise ImportError(
            f"the brian2 engine cannot import Brian2 ({type(exc).__name__}: {exc}); it needs "
            "brian2 >= 2.9, with numpy < 2.4 for brian2 < 2.10"
        ) from exc
    if target == "cython":
        cache_dir.mkdir(parents=True, exist_ok=True)
        brian2.prefs.codegen.runtime.cython.cache_dir = str(cache_dir)
    return brian2, codeobj_class
