"""The digital periphery: DACs driving the rows and ADCs for every digital read."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deephw.devices import draws
from deephw.validation import check


@dataclass(frozen=True)
class PeripherySpec:
    """Converters and read noise of the periphery.

    ``adc_full_scale_uS`` bounds a digital read of one cell's contribution (µS); ``null``
    takes the largest contribution the cell can hold. ``out_noise`` is the standard
    deviation of the additive noise of each digital read, relative to that full scale.
    ``null`` bits mean an ideal converter.
    """

    dac_bits: int | None = field(
        default=None,
        metadata=check(
            ge=1,
            le=32,
            unit="bits",
            group="DAC/ADC bits",
            ideal=None,
            doc="resolution of the row drivers (null: ideal)",
        ),
    )
    adc_bits: int | None = field(
        default=None,
        metadata=check(
            ge=2,
            le=32,
            unit="bits",
            group="DAC/ADC bits",
            ideal=None,
            doc="resolution of every digital read (null: ideal)",
        ),
    )
    adc_full_scale_uS: float | None = field(
        default=None,
        metadata=check(
            gt=0,
            unit="uS",
            group="DAC/ADC bits",
            doc="full scale of a digital read of one cell (null: the cell's largest)",
        ),
    )
    out_noise: float = field(
        default=0.0,
        metadata=check(
            ge=0,
            le=1,
            unit="relative to the full scale",
            group="output noise",
            ideal=0.0,
            doc="standard deviation of the noise added to each digital read",
        ),
    )


class Periphery:
    """DAC and ADC quantisation and the output noise of digital reads."""

    def __init__(self, spec: PeripherySpec, full_scale_uS: float) -> None:
        self.spec = spec
        self.full_scale_uS = spec.adc_full_scale_uS or full_scale_uS

    def dac(self, x: np.ndarray) -> np.ndarray:
        """Row drive of activities ``x`` in [0, 1], on ``2^bits`` levels (exact if ideal)."""
        return _unit_levels(x, self.spec.dac_bits)

    def latch(self, x: np.ndarray) -> np.ndarray:
        """Activities in [0, 1] read through the ADC, on ``2^bits`` levels (exact if ideal)."""
        return _unit_levels(x, self.spec.adc_bits)

    def adc(self, value_uS: np.ndarray) -> np.ndarray:
        """A signed value (µS) through the ADC: clipped to +-full scale, on a uniform
        grid of ``2^bits - 1`` levels that includes 0 (exact if ideal)."""
        if self.spec.adc_bits is None:
            return value_uS
        full = self.full_scale_uS
        lsb = full / (2 ** (self.spec.adc_bits - 1) - 1)
        return np.round(np.clip(value_uS, -full, full) / lsb) * lsb

    def digital_read(
        self,
        value_uS: np.ndarray,
        rng: draws.RNG,
        chips: np.ndarray | None = None,
        n_chips: int | None = None,
    ) -> np.ndarray:
        """A digital read of analog values (µS): output noise, then the ADC.

        ``value_uS`` is ``(S, ...)``, or 1-D with the (sorted) chip of each entry in
        ``chips`` and the number of chips in ``n_chips``.
        """
        if self.spec.out_noise > 0:
            if chips is None:
                noise = draws.normal(rng, value_uS.shape)
            else:
                noise = draws.normal_at(rng, chips, n_chips)
            value_uS = value_uS + self.spec.out_noise * self.full_scale_uS * noise
        return self.adc(value_uS)

    @property
    def lsb_uS(self) -> float:
        """The ADC's step (µS); 0 for an ideal ADC."""
        if self.spec.adc_bits is None:
            return 0.0
        return self.full_scale_uS / (2 ** (self.spec.adc_bits - 1) - 1)


def _unit_levels(x: np.ndarray, bits: int | None) -> np.ndarray:
    """``x`` in [0, 1] on a uniform grid of ``2^bits`` levels; unchanged if ``bits`` is None."""
    if bits is None:
        return x
    top = 2**bits - 1
    return np.round(np.clip(x, 0.0, 1.0) * top) / top
