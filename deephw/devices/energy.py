"""Energy of what the device events leave out: the array's read current during the
circuit's phases and the ADC conversions of the leak measurement and state latches.

Device events (SET / RESET pulses, reads of single devices) are priced by each device's
``costs``; the card's top-level ``costs`` section holds the per-event assumptions of
the rest (:class:`ChipCosts`), each stated with its unit. A card without them (the
ideal card) prices none of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deephw.validation import check


@dataclass(frozen=True)
class ChipCosts:
    """Per-event energy assumptions beyond the device events.

    - Array read during the phases: the neuron circuits integrate the column currents
      continuously, so every circuit step of every sample reads the whole array. Each
      device of each enabled cell dissipates ``V^2 G t`` per step (``V``:
      ``read_voltage_mV`` on every row, ``G``: its conductance, ``t``: the step's
      duration ``dt * tau_ns``): an upper bound, since a row driven at activity ``s``
      (amplitude encoding) draws ``s^2`` of it.
    - ADC conversions: one per cell read when the leak (row sums) is measured, and one
      per neuron and sample when states are latched, at ``adc_conversion_pJ`` each.
      Verify reads of programming are device reads, priced by the devices' costs.
    """

    read_voltage_mV: float = field(
        default=0.0,
        metadata=check(
            ge=0, unit="mV", doc="row read voltage while the circuit relaxes (0: not priced)"
        ),
    )
    adc_conversion_pJ: float = field(
        default=0.0,
        metadata=check(
            ge=0, unit="pJ", doc="energy of one ADC conversion (leak measurement, state latch)"
        ),
    )


def array_read_pJ(costs: ChipCosts, conductance_uS: np.ndarray, seconds: float) -> np.ndarray:
    """Energy (pJ) of reading an array whose devices sum to ``conductance_uS`` (per
    chip) at ``read_voltage_mV`` for ``seconds``: ``V^2 G t``."""
    volts = costs.read_voltage_mV * 1e-3
    return volts**2 * np.asarray(conductance_uS) * 1e-6 * seconds * 1e12


def conversions_pJ(costs: ChipCosts, conversions: np.ndarray) -> np.ndarray:
    """Energy (pJ) of ``conversions`` ADC conversions (per chip)."""
    return costs.adc_conversion_pJ * np.asarray(conversions, dtype=float)
