"""Device groups of weight programs: the YAML file, selectors, and exactly-one membership."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from deephw import topology
from deephw.devices import load_card
from deephw.errors import ConfigError
from deephw.program.groups import assign_groups, default_groups, load_groups
from deephw.program.layout import TileGeometry
from deephw.program.plan import plan_devices


def xor_table(rows: int = 4, cols: int = 4, card: str = "pcm_ambrogio2018"):
    """Devices of the 9-neuron XOR graph (weights 0.5) on ``rows x cols`` tiles."""
    topo = topology.complete(2, 5, 1)
    geometry = TileGeometry(rows, cols, topo.n)
    table = plan_devices(load_card(card), 0.5 * topo.mask, topo.mask, geometry)
    return table, geometry, topo


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "groups.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def resolve(tmp_path: Path, data: dict, **kw):
    table, geometry, _ = xor_table(**kw)
    spec = load_groups(write(tmp_path, data))
    return assign_groups(spec, table, geometry, 0.5, 30), table


def test_tile_addresses_follow_the_geometry() -> None:
    table, geometry, topo = xor_table(4, 4)
    pre, post = table["pre"], table["post"]
    assert np.array_equal(table["tile"], (pre // 4) * 3 + post // 4)
    assert np.array_equal(table["row"], pre % 4) and np.array_equal(table["column"], post % 4)
    assert len(table) == 3 * topo.n_trainable  # G+, G-, g per cell
    order = np.lexsort((table["role"], table["column"], table["row"], table["tile"]))
    assert np.array_equal(order, np.arange(len(table)))
    back = geometry.cell(table["tile"], table["row"], table["column"])
    assert np.array_equal(back[0], pre) and np.array_equal(back[1], post) and back[2].all()


def test_default_groups_are_one_per_tile_and_role() -> None:
    table, geometry, _ = xor_table(4, 4)
    groups = assign_groups(default_groups(), table, geometry, 0.5, 30)
    tiles_with_devices = np.unique(table["tile"])
    assert len(groups) == 3 * tiles_with_devices.size
    assert groups[0].name == f"tile{tiles_with_devices[0]}_G+"
    covered = np.sort(np.concatenate([g.rows for g in groups]))
    assert np.array_equal(covered, np.arange(len(table)))
    for g in groups:
        assert np.unique(table["tile"][g.rows]).size == 1
        assert np.unique(table["role"][g.rows]).size == 1


def test_selectors_ranges_and_explicit_devices(tmp_path: Path) -> None:
    data = {
        "tolerance_uS": 0.4,
        "groups": [
            {"name": "picked", "devices": [{"tile": 0, "row": 2, "column": 3, "role": "G+"}]},
            {"name": "out_col", "columns": [0, 0], "tiles": [2, 5, 8], "tolerance_uS": 0.2},
            {"name": "rest_{role}", "split_by": ["role"], "rest": True},
        ],
    }
    groups, table = resolve(tmp_path, data)
    by_name = {g.name: g for g in groups}
    assert set(by_name) == {"picked", "out_col", "rest_G+", "rest_G-", "rest_g"}
    (k,) = by_name["picked"].rows
    assert (table["pre"][k], table["post"][k], table.role_names[table["role"][k]]) == (2, 3, "G+")
    out = by_name["out_col"].rows
    assert set(table["post"][out].tolist()) == {8} and len(out) == 3 * 8  # 8 cells into out
    assert by_name["out_col"].tolerance_uS == 0.2 and by_name["rest_g"].tolerance_uS == 0.4
    assert by_name["rest_G+"].max_iterations == 30


def test_overlapping_groups_name_the_file_and_the_device(tmp_path: Path) -> None:
    data = {"groups": [{"name": "all"}, {"name": "pairs", "roles": ["G+"]}]}
    with pytest.raises(ConfigError) as err:
        resolve(tmp_path, data)
    message = str(err.value)
    assert "groups.yaml" in message and "groups[1]" in message
    assert "tile 0 row 0 column 3 role G+ (cell 0 -> 3)" in message and "'all'" in message


def test_devices_in_no_group_are_an_error(tmp_path: Path) -> None:
    data = {"groups": [{"name": "pairs", "roles": ["G+", "G-"]}]}
    with pytest.raises(ConfigError) as err:
        resolve(tmp_path, data)
    message = str(err.value)
    assert "groups.yaml" in message and "role g" in message and "belongs to no group" in message
    assert "48 of 144 devices" in message


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"groups": [{"name": "a", "colour": 1}]}, "groups[0].colour", "unknown key"),
        ({"groups": [{"name": "a", "roles": ["G*"]}]}, "groups[0].roles", "not a role"),
        ({"groups": [{"name": "a", "tiles": [9]}]}, "groups[0].tiles", "no such tile"),
        ({"groups": [{"name": "a", "rows": [3, 1]}]}, "groups[0].rows", "first <= last"),
        ({"groups": [{"name": "a", "rows": [4, 5]}]}, "groups[0].rows", "outside the tile"),
        ({"groups": [{"name": "a", "split_by": ["column"]}]}, "groups[0].split_by", "among"),
        ({"groups": [{"name": "a b"}]}, "groups[0].name", "letters"),
        ({"groups": [{"name": "t{tile}"}]}, "groups[0].name", "needs tile in split_by"),
        ({"groups": [{"name": "a", "tolerance_uS": 0}]}, "groups[0].tolerance_uS", "> 0"),
        ({"groups": []}, "groups", "at least one"),
        (
            {"groups": [{"name": "a", "roles": ["G+", "G-"]}, {"name": "a", "roles": ["g"]}]},
            "groups[1].name",
            "also",
        ),
        ({"groups": [{"name": "a", "tiles": [8]}]}, "groups[0]", "selects no device"),
        (
            {
                "groups": [
                    {"name": "a", "devices": [{"tile": 0, "row": 0, "column": 0, "role": "G+"}]}
                ]
            },
            "groups[0].devices[0]",
            "no such device",
        ),
        ({"groups": [{"name": "a", "roles": ["G+"], "devices": []}]}, "groups[0].devices", "other"),
    ],
)
def test_bad_groups_files_name_file_field_and_value(
    tmp_path: Path, data: dict, field: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as err:
        resolve(tmp_path, data)
    message = str(err.value)
    assert message.startswith(str(tmp_path / "groups.yaml"))
    assert err.value.field == field and reason in message


def test_a_pair_card_has_no_capacitor_role(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="roles: G\\+, G-"):
        resolve(tmp_path, {"groups": [{"name": "a", "roles": ["g"]}]}, card="pcm_pair")
