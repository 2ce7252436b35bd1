"""Network graphs: the paper's complete graph, layered graphs and user adjacency files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deephw import ConfigError, topology


def test_paper_graph_counts() -> None:
    topo = topology.complete(2, 5, 1)
    assert topo.n == 9
    assert topo.n_clamped == 3
    assert topo.bias_index == 2
    assert topo.n_trainable == 48 == (9 - 3) * (9 - 1)
    assert topo.mask.shape == (9, 9) and topo.mask.dtype == bool
    assert topo.output_slice == slice(8, 9)
    np.testing.assert_array_equal(topo.free, [False] * 3 + [True] * 6)
    assert topo.kind == "complete"


@pytest.mark.parametrize(("n_in", "n_hid", "n_out"), [(0, 0, 1), (1, 0, 1), (2, 5, 1), (4, 3, 3)])
def test_complete_graph_edges(n_in: int, n_hid: int, n_out: int) -> None:
    topo = topology.complete(n_in, n_hid, n_out)
    n, p = topo.n, n_in + 1
    assert n == n_in + 1 + n_hid + n_out
    assert topo.n_trainable == (n - p) * (n - 1)
    for i in range(n):
        for j in range(n):
            assert topo.mask[i, j] == (i != j and j >= p), (i, j)


def test_roles() -> None:
    topo = topology.complete(2, 5, 1)
    assert [topo.role(k) for k in range(9)] == [
        "x1",
        "x2",
        "bias",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "out",
    ]
    multi = topology.complete(1, 2, 3)
    assert [multi.role(k) for k in range(multi.n)] == ["x1", "bias", "h1", "h2", "y1", "y2", "y3"]


def layer_of(n_in: int, layers: tuple[int, ...], n_out: int) -> list[object]:
    """Layer index of each neuron: inputs 0, hidden layers 1.., outputs last; bias 'bias'."""
    labels: list[object] = [0] * n_in + ["bias"]
    for k, size in enumerate(layers, start=1):
        labels += [k] * size
    labels += [len(layers) + 1] * n_out
    return labels


@pytest.mark.parametrize(
    ("n_in", "layers", "n_out"), [(2, (3, 2), 1), (2, (4,), 2), (3, (), 2), (2, (1, 1, 1), 1)]
)
def test_layered_graph_edges(n_in: int, layers: tuple[int, ...], n_out: int) -> None:
    topo = topology.layered(n_in, layers, n_out)
    labels = layer_of(n_in, layers, n_out)
    p = n_in + 1
    assert topo.n == len(labels)
    assert topo.kind == "layered"
    for i in range(topo.n):
        for j in range(topo.n):
            if j < p:
                want = False  # nothing into clamped neurons (inputs and bias)
            elif labels[i] == "bias":
                want = True  # the bias feeds every non-clamped neuron
            else:
                want = abs(labels[i] - labels[j]) == 1  # neighbouring layers, both ways
            assert topo.mask[i, j] == want, (i, j)
    assert not topo.mask.diagonal().any()


def test_layered_example_count() -> None:
    # inputs->h1 2*3, h1<->h2 2*3*2, h2<->out 2*2*1, bias->6 free
    assert topology.layered(2, (3, 2), 1).n_trainable == 6 + 12 + 4 + 6


def test_bad_counts() -> None:
    with pytest.raises(ValueError, match="hidden layer"):
        topology.layered(2, (3, 0), 1)
    with pytest.raises(ValueError, match="outputs >= 1"):
        topology.complete(2, 5, 0)
    with pytest.raises(ValueError, match="inputs >= 0"):
        topology.complete(-1, 5, 1)


def expected_mask(n: int, edges: list[tuple[int, int]]) -> np.ndarray:
    mask = np.zeros((n, n), dtype=bool)
    for i, j in edges:
        mask[i, j] = True
    return mask


EDGES = [(0, 3), (1, 3), (2, 3), (2, 4), (3, 4), (4, 3), (0, 4)]


def test_adjacency_yaml_edge_list(tmp_path: Path) -> None:
    path = tmp_path / "graph.yaml"
    path.write_text("edges:\n" + "".join(f"  - [{i}, {j}]\n" for i, j in EDGES))
    topo = topology.from_adjacency(2, 1, 1, path)
    assert topo.kind == "adjacency"
    assert topo.n == 5 and topo.n_trainable == len(EDGES)
    np.testing.assert_array_equal(topo.mask, expected_mask(5, EDGES))


@pytest.mark.parametrize("sep", [" ", ", ", ","])
def test_adjacency_text_matrix(tmp_path: Path, sep: str) -> None:
    mask = expected_mask(5, EDGES)
    path = tmp_path / "graph.txt"
    path.write_text("\n".join(sep.join(str(int(v)) for v in row) for row in mask) + "\n")
    topo = topology.from_adjacency(2, 1, 1, path)
    np.testing.assert_array_equal(topo.mask, mask)


def test_adjacency_npy(tmp_path: Path) -> None:
    mask = expected_mask(5, EDGES)
    path = tmp_path / "graph.npy"
    np.save(path, mask.astype(np.int64))
    np.testing.assert_array_equal(topology.from_adjacency(2, 1, 1, path).mask, mask)
    np.save(path, mask)
    np.testing.assert_array_equal(topology.from_adjacency(2, 1, 1, path).mask, mask)


def test_adjacency_complete_matrix_equals_complete(tmp_path: Path) -> None:
    path = tmp_path / "complete.txt"
    np.savetxt(path, topology.complete(2, 5, 1).mask.astype(int), fmt="%d")
    topo = topology.from_adjacency(2, 5, 1, path)
    np.testing.assert_array_equal(topo.mask, topology.complete(2, 5, 1).mask)
    assert topo.n_trainable == 48


def check_error(exc: pytest.ExceptionInfo[ConfigError], path: Path, *parts: str) -> None:
    message = str(exc.value)
    assert str(path) in message
    for part in parts:
        assert part in message, (part, message)


@pytest.mark.parametrize(
    ("edge", "what"), [((3, 3), "3->3"), ((4, 1), "4->1"), ((3, 2), "3->2"), ((0, 0), "0->0")]
)
def test_adjacency_yaml_forbidden_edge(tmp_path: Path, edge: tuple[int, int], what: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"edges: [[0, 3], [{edge[0]}, {edge[1]}]]\n")
    with pytest.raises(ConfigError) as exc:
        topology.from_adjacency(2, 1, 1, path)
    check_error(exc, path, what)


def test_adjacency_matrix_self_loop(tmp_path: Path) -> None:
    mask = expected_mask(5, [*EDGES, (4, 4)])
    path = tmp_path / "loop.npy"
    np.save(path, mask)
    with pytest.raises(ConfigError, match="self loop") as exc:
        topology.from_adjacency(2, 1, 1, path)
    check_error(exc, path, "4->4")


def test_adjacency_matrix_edge_into_clamped(tmp_path: Path) -> None:
    mask = expected_mask(5, [*EDGES, (3, 0)])
    path = tmp_path / "into.txt"
    np.savetxt(path, mask.astype(int), fmt="%d")
    with pytest.raises(ConfigError, match="clamped") as exc:
        topology.from_adjacency(2, 1, 1, path)
    check_error(exc, path, "3->0")


def test_adjacency_wrong_shape(tmp_path: Path) -> None:
    path = tmp_path / "shape.txt"
    np.savetxt(path, np.zeros((4, 5), dtype=int), fmt="%d")
    with pytest.raises(ConfigError) as exc:
        topology.from_adjacency(2, 1, 1, path)
    check_error(exc, path, "shape", "(4, 5)", "(5, 5)")


@pytest.mark.parametrize("bad", ["2", "0.5", "-1", "nan"])
def test_adjacency_non_binary(tmp_path: Path, bad: str) -> None:
    rows = [["0"] * 5 for _ in range(5)]
    rows[0][3] = bad
    path = tmp_path / "values.txt"
    path.write_text("\n".join(" ".join(r) for r in rows) + "\n")
    with pytest.raises(ConfigError) as exc:
        topology.from_adjacency(2, 1, 1, path)
    check_error(exc, path, "0 or 1")


def test_adjacency_unreadable_text(tmp_path: Path) -> None:
    path = tmp_path / "text.txt"
    path.write_text("0 1 x\n")
    with pytest.raises(ConfigError) as exc:
        topology.from_adjacency(2, 1, 1, path)
    check_error(exc, path)


def test_adjacency_yaml_bad_edge_entry(tmp_path: Path) -> None:
    path = tmp_path / "range.yaml"
    path.write_text("edges: [[0, 3], [0, 9]]\n")
    with pytest.raises(ConfigError) as exc:
        topology.from_adjacency(2, 1, 1, path)
    check_error(exc, path, "edges[1]", "[0, 9]")
    path.write_text("nodes: [1, 2]\n")
    with pytest.raises(ConfigError) as exc:
        topology.from_adjacency(2, 1, 1, path)
    check_error(exc, path, "edges")


def test_adjacency_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError, match="does not exist") as exc:
        topology.from_adjacency(2, 1, 1, path)
    check_error(exc, path)
    with pytest.raises(ConfigError) as exc:
        topology.from_adjacency(2, 1, 1, path, source="run.yaml")
    assert "run.yaml" in str(exc.value)


# -- graphs that cannot learn, and edges that are not pairs of neurons ---------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("edges: []\n", "edges = []: the graph has no connection, nothing to train"),
        (
            "edges: [[3, 4], [4, 3]]\n",  # hidden <-> output, nothing feeds them
            "edges: output neuron 4 (out) has no path from the inputs or the bias",
        ),
    ],
)
def test_adjacency_yaml_graph_that_cannot_learn(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "graph.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        topology.from_adjacency(2, 1, 1, path)
    assert str(exc.value).startswith(f"{path}: {message}"), str(exc.value)


def test_adjacency_matrix_graph_that_cannot_learn(tmp_path: Path) -> None:
    path = tmp_path / "graph.npy"
    np.save(path, np.zeros((5, 5), dtype=bool))
    with pytest.raises(ConfigError) as exc:
        topology.from_adjacency(2, 1, 1, path)
    assert str(exc.value) == f"{path}: the graph has no connection, nothing to train"
    np.save(path, expected_mask(5, [(0, 3), (2, 3)]))  # the output is never reached
    with pytest.raises(ConfigError, match=r"output neuron 4 \(out\) has no path"):
        topology.from_adjacency(2, 1, 1, path)
    np.save(path, expected_mask(5, [(2, 4)]))  # the bias alone is a path
    assert topology.from_adjacency(2, 1, 1, path).n_trainable == 1


@pytest.mark.parametrize(
    ("edge", "reason"),
    [
        ("[0, true]", "booleans are not neuron indices"),
        ("[false, 3]", "booleans are not neuron indices"),
        ("[0, 3.0]", "must be [i, j] in 0..4"),
        ("['0', 3]", "must be [i, j] in 0..4"),
        ("[0, null]", "must be [i, j] in 0..4"),
        ("[0, 3, 4]", "must be a pair [i, j] in 0..4"),
        ("'0->3'", "must be a pair [i, j] in 0..4"),
        ("{0: 3}", "must be a pair [i, j] in 0..4"),
    ],
)
def test_adjacency_yaml_edge_that_is_not_two_indices(
    tmp_path: Path, edge: str, reason: str
) -> None:
    path = tmp_path / "graph.yaml"
    path.write_text(f"edges: [[0, 3], [3, 4], {edge}]\n")
    with pytest.raises(ConfigError) as exc:
        topology.from_adjacency(2, 1, 1, path)
    message = str(exc.value)
    assert message.startswith(f"{path}: edges[2] = ") and message.endswith(reason), message
    assert "self loop" not in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("edges: [[0, 3], [1, 3], [0, 3]]\n", "edges[2] = [0, 3]: given twice (first as edges[0])"),
        ("matrix: []\n", "matrix = []: unknown key: a YAML graph holds only edges"),
    ],
)
def test_a_graph_file_with_a_repeated_edge_or_a_stray_key_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "graph.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        topology.from_adjacency(2, 0, 1, path)
    assert str(exc.value) == f"{path}: {message}" or str(exc.value).startswith(f"{path}: {message}")
