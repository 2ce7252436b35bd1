"""Memory devices: device models, unit cells, device cards and the periphery.

Importing this package registers every device model and unit cell. Strings (a card's
``model:`` and ``cell.kind``) are resolved only when a card is loaded.
"""

from deephw.devices import (  # noqa: F401  (modules register models and cells)
    ambrogio,
    capacitor,
    constant_step,
    exp_step,
    ideal,
    lookup,
    pcm,
    soft_bounds,
)
from deephw.devices.array import DeviceArray
from deephw.devices.base import (
    DeviceModel,
    DeviceParams,
    device_model_names,
    get_device_model,
    register_device,
)
from deephw.devices.cards import (
    Card,
    card_from_dict,
    card_hash,
    card_table,
    card_to_yaml,
    check_card,
    list_cards,
    load_card,
    replace_card,
)
from deephw.devices.cells import UnitCell, get_cell, register_cell, show_card
from deephw.devices.fit import fit_card
from deephw.devices.periphery import Periphery, PeripherySpec

__all__ = [
    "Card",
    "DeviceArray",
    "DeviceModel",
    "DeviceParams",
    "Periphery",
    "PeripherySpec",
    "UnitCell",
    "card_from_dict",
    "card_hash",
    "card_table",
    "card_to_yaml",
    "check_card",
    "device_model_names",
    "fit_card",
    "get_cell",
    "get_device_model",
    "list_cards",
    "load_card",
    "register_cell",
    "register_device",
    "replace_card",
    "show_card",
]
