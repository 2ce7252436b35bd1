"""The digital periphery: DACs driving the rows and ADCs for every digital read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from deephw.devices import draws
from deephw.validation import check

if TYPE_CHECKING:
    from deephw.devices.base import DeviceParams


@dataclass(frozen=True)
class PeripherySpec:
    """Converters and output noise of the periphery.

    ``adc_full_scale_uS`` bounds a digital read of one cell's contribution (µS); ``null``
    takes the largest contribution the cell can hold. A read of a single device (verify
    reads, refresh and transfer reads) uses that device's own range instead, see
    :meth:`Periphery.device_full_scale_uS`. ``out_noise`` is the standard deviation of
    the additive output noise (input-referred to the ADC) of each digital read, relative
    to that read's full scale: IBM aihwkit's ``IOParameters.out_noise`` (default 0.06,
    in units of the output of one full-scale weight at full input). ``null`` bits mean
    an ideal converter.
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
            unit="relative to the read's full scale",
            group="output noise",
            ideal=0.0,
            doc=(
                "standard deviation of the output noise added to each digital read; "
                "aihwkit IOParameters.out_noise, 0.06"
            ),
        ),
    )


class Periphery:
    """DAC and ADC quantisation and the output noise of digital reads.

    Parameters
    ----------
    spec
        The card's periphery section.
    full_scale_uS
        The ADC range of a read of one cell's contribution (the cell's largest
        contribution), unless the card sets ``adc_full_scale_uS``.
    """

    def __init__(self, spec: PeripherySpec, full_scale_uS: float) -> None:
        self.spec = spec
        self.full_scale_uS = spec.adc_full_scale_uS or full_scale_uS

    def device_full_scale_uS(self, params: DeviceParams) -> float:
        """The ADC range (µS) of a read of one device with card section ``params``.

        A single-device read is ranged to that device, not to the cell: its nominal
        largest conductance ``max(|g_min|, |g_max|)`` (so a 25 µS PCM device of a cell
        whose contribution spans 91 µS is read with a step of 25 µS / 255, not 91 µS /
        255, and a capacitor between 4 and 20 µS is not clipped at the 8 µS its cell
        contributes). Unbounded devices take the cell's range.
        """
        if not params.bounded:
            return self.full_scale_uS
        return float(max(abs(params.g_min_uS), abs(params.g_max_uS)))

    def dac(self, x: np.ndarray) -> np.ndarray:
        """Row drive of activities ``x`` in [0, 1], on ``2^bits`` levels (exact if ideal)."""
        return _unit_levels(x, self.spec.dac_bits)

    def latch(self, x: np.ndarray) -> np.ndarray:
        """Activities in [0, 1] read through the ADC, on ``2^bits`` levels (exact if ideal)."""
        return _unit_levels(x, self.spec.adc_bits)

    def adc(self, value_uS: np.ndarray, full_scale_uS: float | None = None) -> np.ndarray:
        """A signed value (µS) through the ADC: clipped to +-full scale (default the
        cell's), on a uniform grid of ``2^bits - 1`` levels that includes 0 (exact if
        ideal)."""
        if self.spec.adc_bits is None:
            return value_uS
        full = self.full_scale_uS if full_scale_uS is None else full_scale_uS
        lsb = self.lsb(full)
        return np.round(np.clip(value_uS, -full, full) / lsb) * lsb

    def digital_read(
        self,
        value_uS: np.ndarray,
        rng: draws.RNG,
        chips: np.ndarray | None = None,
        n_chips: int | None = None,
        full_scale_uS: float | None = None,
    ) -> np.ndarray:
        """A digital read of analog values (µS): output noise, then the ADC.

        ``value_uS`` is ``(S, ...)``, or 1-D with the (sorted) chip of each entry in
        ``chips`` and the number of chips in ``n_chips``. ``full_scale_uS`` is the read's
        range (default: the cell's); the output noise has standard deviation
        ``out_noise`` times it. Without output noise nothing is drawn.
        """
        full = self.full_scale_uS if full_scale_uS is None else full_scale_uS
        if self.spec.out_noise > 0:
            if chips is None:
                noise = draws.normal(rng, value_uS.shape)
            else:
                noise = draws.normal_at(rng, chips, n_chips)
            value_uS = value_uS + self.spec.out_noise * full * noise
        return self.adc(value_uS, full)

    def lsb(self, full_scale_uS: float | None = None) -> float:
        """The ADC's step (µS) for a read of range ``full_scale_uS`` (default the
        cell's); 0 for an ideal ADC."""
        if self.spec.adc_bits is None:
            return 0.0
        full = self.full_scale_uS if full_scale_uS is None else full_scale_uS
        return full / (2 ** (self.spec.adc_bits - 1) - 1)

    @property
    def lsb_uS(self) -> float:
        """The ADC's step (µS) of a cell read; 0 for an ideal ADC."""
        return self.lsb()


def _unit_levels(x: np.ndarray, bits: int | None) -> np.ndarray:
    """``x`` in [0, 1] on a uniform grid of ``2^bits`` levels; unchanged if ``bits`` is None."""
    if bits is None:
        return x
    top = 2**bits - 1
    return np.round(np.clip(x, 0.0, 1.0) * top) / top
