"""Device targets and programming schedules of one network on a device card."""

from __future__ import annotations

import numpy as np

from deephw.devices import Card, DeviceModel, get_cell
from deephw.errors import DeephwError, quote
from deephw.program.layout import TileGeometry
from deephw.program.tables import METHOD_NAMES, DeviceTable, make_table

WRITE_VERIFY, RESET = (METHOD_NAMES.index(name) for name in ("write_verify", "reset"))


def device_range(model: DeviceModel) -> tuple[float, float]:
    """The nominal conductance range ``(low, high)`` (µS) of a device model; an
    unbounded side is infinite."""
    params = model.params
    low = -np.inf if params.g_min_uS is None else float(params.g_min_uS)
    high = np.inf if params.g_max_uS is None else float(params.g_max_uS)
    return low, high


def held_roles(card: Card) -> tuple[str, ...]:
    """Roles whose nominal target is their reset value whatever the weight.

    They are RESET and held there (e.g. the capacitor ``g`` of an Ambrogio cell, whose
    contribution lives in the PCM pair once transferred); the other roles are written
    and verified.
    """
    cell = get_cell(card.cell.kind)
    models = cell.models_for(card)
    probe = cell.nominal_targets(card, np.array([-1.0, 0.0, 1.0]))
    return tuple(
        role for role in cell.roles if np.all(probe[role] == models[role].nominal_reset_uS())
    )


def plan_devices(
    card: Card,
    weights: np.ndarray,
    enabled: np.ndarray,
    geometry: TileGeometry,
    where: str = "",
) -> DeviceTable:
    """Every device of the enabled cells: address, target, start state and pulses.

    Targets are the cell's nominal conductances for ``weights`` (see
    :meth:`~deephw.devices.cells.UnitCell.nominal_targets`); every device starts from
    RESET; ``pulses`` counts the nominal steps from the reset value to the target.
    Schedules (``max_iterations``, ``tolerance_uS``) are filled in per group later.
    Rows are sorted by ``(tile, row, column, role)``.

    Raises
    ------
    DeephwError
        When a target lies outside its device's nominal range; the message names the
        cell (``where`` is prefixed, e.g. the run and seed).
    """
    cell = get_cell(card.cell.kind)
    models = cell.models_for(card)
    roles = cell.roles
    pre, post = np.nonzero(enabled)
    tile, row, column = geometry.address(pre, post)
    order = np.lexsort((column, row, tile))
    pre, post, tile, row, column = (v[order] for v in (pre, post, tile, row, column))
    targets = cell.nominal_targets(card, weights[pre, post])
    held = held_roles(card)
    n_cells, n_roles = pre.size, len(roles)
    shape = (n_cells, n_roles)
    target = np.empty(shape)
    start = np.empty(shape)
    steps = np.empty(shape)
    method = np.empty(shape, dtype=np.uint8)
    for code, role in enumerate(roles):
        model = models[role]
        value = np.asarray(targets[role], dtype=float)
        low, high = device_range(model)
        bad = np.flatnonzero((value < low) | (value > high))
        if bad.size:
            k = bad[np.lexsort((post[bad], pre[bad]))[0]]
            raise DeephwError(
                f"{where}cell {pre[k]} -> {post[k]} (tile {tile[k]}, row {row[k]}, column "
                f"{column[k]}, role {role}): weight {weights[pre[k], post[k]]:.6g} needs "
                f"{value[k]:.6g} µS, outside the device's range [{low:g}, {high:g}] µS of "
                f"card {quote(card.name)} (G_ref {card.cell.g_ref_uS:g} µS); "
                f"{bad.size} devices of role {role} are out of range"
            )
        target[:, code] = value
        start[:, code] = model.nominal_reset_uS()
        steps[:, code] = model.nominal_step_uS()
        method[:, code] = RESET if role in held else WRITE_VERIFY
    delta = target - start
    writing = method == WRITE_VERIFY
    columns = {
        "tile": np.repeat(tile, n_roles),
        "row": np.repeat(row, n_roles),
        "column": np.repeat(column, n_roles),
        "role": np.tile(np.arange(n_roles), n_cells),
        "pre": np.repeat(pre, n_roles),
        "post": np.repeat(post, n_roles),
        "target_uS": target.reshape(-1),
        "start": np.zeros(target.size),
        "start_uS": start.reshape(-1),
        "polarity": np.where(writing, np.sign(delta), 0).reshape(-1),
        "pulses": np.where(writing, np.ceil(np.abs(delta) / steps), 0).reshape(-1),
        "method": method.reshape(-1),
        "max_iterations": np.zeros(target.size),
        "tolerance_uS": np.full(target.size, np.nan),
    }
    return make_table(columns, roles)
