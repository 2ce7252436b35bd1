"""Network graphs: which neuron is which, and which directed connections exist.

Neurons are ordered: the task inputs, one bias neuron held at 1 (these ``P`` are clamped),
then the hidden neurons, then the outputs. ``mask[i, j]`` is true where the connection
``i -> j`` exists. No graph has self loops or connections into a clamped neuron.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deephw.errors import ConfigError
from deephw.validation import file_problem, read_yaml


@dataclass(frozen=True, eq=False)
class Topology:
    """A directed graph over clamped, hidden and output neurons.

    Attributes
    ----------
    n_inputs, n_hidden, n_outputs
        Neuron counts; the bias neuron comes after the inputs and is not counted here.
    mask
        ``(N, N)`` boolean structural mask, ``mask[i, j]`` for the connection ``i -> j``.
    kind
        How the graph was made: ``"complete"``, ``"layered"`` or ``"adjacency"``.
    """

    n_inputs: int
    n_hidden: int
    n_outputs: int
    mask: np.ndarray = field(repr=False)
    kind: str = "complete"

    @property
    def n(self) -> int:
        """Total number of neurons, bias included."""
        return self.n_inputs + 1 + self.n_hidden + self.n_outputs

    @property
    def n_clamped(self) -> int:
        """Number of clamped neurons ``P`` (inputs and bias)."""
        return self.n_inputs + 1

    @property
    def bias_index(self) -> int:
        """Index of the bias neuron."""
        return self.n_inputs

    @property
    def output_slice(self) -> slice:
        """Indices of the output neurons."""
        return slice(self.n - self.n_outputs, self.n)

    @property
    def free(self) -> np.ndarray:
        """Boolean vector, true for the non-clamped neurons."""
        free = np.ones(self.n, dtype=bool)
        free[: self.n_clamped] = False
        return free

    @property
    def n_trainable(self) -> int:
        """Number of connections in the structural mask (the trainable parameters)."""
        return int(self.mask.sum())

    def role(self, index: int) -> str:
        """Short label of neuron ``index``: ``x1``, ``bias``, ``h3``, ``out`` or ``y2``."""
        if index < self.n_inputs:
            return f"x{index + 1}"
        if index == self.bias_index:
            return "bias"
        if index < self.n - self.n_outputs:
            return f"h{index - self.n_clamped + 1}"
        k = index - (self.n - self.n_outputs)
        return "out" if self.n_outputs == 1 else f"y{k + 1}"


def _allowed(n: int, n_clamped: int) -> np.ndarray:
    allowed = np.ones((n, n), dtype=bool)
    np.fill_diagonal(allowed, False)
    allowed[:, :n_clamped] = False
    return allowed


def complete(n_inputs: int, n_hidden: int, n_outputs: int) -> Topology:
    """The complete directed graph: every allowed connection exists.

    Its trainable-parameter count is ``(N - P) * (N - 1)``.
    """
    _check_counts(n_inputs, n_hidden, n_outputs)
    n = n_inputs + 1 + n_hidden + n_outputs
    return Topology(n_inputs, n_hidden, n_outputs, _allowed(n, n_inputs + 1), "complete")


def layered(n_inputs: int, hidden_layers: tuple[int, ...], n_outputs: int) -> Topology:
    """Layers with forward and feedback connections between neighbouring layers.

    The inputs feed the first hidden layer (or the outputs if there is none); each pair of
    neighbouring non-clamped layers is connected both ways; the bias neuron feeds every
    non-clamped neuron.
    """
    n_hidden = int(sum(hidden_layers))
    _check_counts(n_inputs, n_hidden, n_outputs)
    if any(h < 1 for h in hidden_layers):
        raise ValueError(f"every hidden layer needs at least one neuron, got {hidden_layers}")
    n = n_inputs + 1 + n_hidden + n_outputs
    sizes = [n_inputs, *hidden_layers, n_outputs]
    starts = np.cumsum([0, n_inputs + 1, *hidden_layers])
    layers = [np.arange(n_inputs)] + [
        np.arange(starts[k + 1], starts[k + 1] + sizes[k + 1]) for k in range(len(sizes) - 1)
    ]
    mask = np.zeros((n, n), dtype=bool)
    for a, b in zip(layers[:-1], layers[1:], strict=False):
        mask[np.ix_(a, b)] = True
        mask[np.ix_(b, a)] = True
    mask[n_inputs, n_inputs + 1 :] = True
    mask &= _allowed(n, n_inputs + 1)
    return Topology(n_inputs, n_hidden, n_outputs, mask, "layered")


def from_adjacency(
    n_inputs: int, n_hidden: int, n_outputs: int, path: str | Path, source: str = ""
) -> Topology:
    """A user-given graph: a YAML edge list or an ``N x N`` 0/1 matrix file.

    The YAML file holds ``edges: [[i, j], ...]`` (neuron indices, ``i -> j``); a matrix
    file (``.npy``, or text readable by ``numpy.loadtxt`` with spaces or commas) holds
    the mask itself. Self loops and edges into clamped neurons are errors.
    """
    _check_counts(n_inputs, n_hidden, n_outputs)
    path = Path(path)
    field_name = "network.adjacency"
    where = source or str(path)
    problem = file_problem(path)
    if problem is not None:
        raise ConfigError(where, field_name, str(path), problem)
    n = n_inputs + 1 + n_hidden + n_outputs
    if path.suffix in (".yaml", ".yml"):
        data = read_yaml(path)
        for key in data:
            if key != "edges":
                reason = (
                    "unknown key: a YAML graph holds only edges: [[i, j], ...] (a 0/1 "
                    "matrix goes in a .npy or text file)"
                )
                raise ConfigError(str(path), str(key), data[key], reason)
        edges = data.get("edges")
        if not isinstance(edges, list):
            raise ConfigError(str(path), "edges", edges, "must be a list of [i, j] pairs")
        mask = np.zeros((n, n), dtype=bool)
        first: dict[tuple[int, int], int] = {}
        for k, edge in enumerate(edges):
            i, j = _edge(edge, n, str(path), k)
            if (i, j) in first:
                reason = f"given twice (first as edges[{first[i, j]}])"
                raise ConfigError(str(path), f"edges[{k}]", [i, j], reason)
            first[i, j] = k
            mask[i, j] = True
    else:
        try:
            if path.suffix == ".npy":
                raw = np.load(path, allow_pickle=False)
            else:
                text = path.read_text().replace(",", " ")
                raw = np.loadtxt(text.splitlines(), ndmin=2)
        except (ValueError, OSError) as exc:
            raise ConfigError(str(path), "", str(path), f"cannot read the matrix ({exc})") from None
        if raw.shape != (n, n):
            raise ConfigError(str(path), "shape", raw.shape, f"must be ({n}, {n})")
        if not np.isin(raw, (0, 1)).all():
            raise ConfigError(str(path), "values", "non-0/1", "matrix entries must be 0 or 1")
        mask = raw.astype(bool)
    bad = mask & ~_allowed(n, n_inputs + 1)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        why = "self loop" if i == j else f"edge into clamped neuron {j}"
        raise ConfigError(str(path), f"edge {i}->{j}", [i, j], f"not allowed ({why})")
    topo = Topology(n_inputs, n_hidden, n_outputs, mask, "adjacency")
    _check_reaches_outputs(topo, str(path), "edges" if path.suffix in (".yaml", ".yml") else "")
    return topo


def _edge(edge: object, n: int, source: str, k: int) -> tuple[int, int]:
    """Edge ``k`` of an edge list as ``(i, j)``; anything but two indices is a ConfigError."""
    field_name = f"edges[{k}]"
    if not isinstance(edge, (list, tuple)) or len(edge) != 2:
        raise ConfigError(source, field_name, edge, f"must be a pair [i, j] in 0..{n - 1}")
    for v in edge:
        if isinstance(v, bool):  # YAML true/false are ints to Python, not neurons
            raise ConfigError(source, field_name, edge, "booleans are not neuron indices")
        if not isinstance(v, int) or not 0 <= v < n:
            raise ConfigError(source, field_name, edge, f"must be [i, j] in 0..{n - 1}")
    return edge[0], edge[1]


def _check_reaches_outputs(topo: Topology, source: str, field_name: str) -> None:
    """Raise ConfigError unless the graph has a connection and every output is reachable.

    An output with no path from the clamped neurons (inputs and bias) keeps its initial
    state whatever the weights: such a graph cannot learn, and its sparsity is undefined
    when it has no connection at all.
    """
    if not topo.mask.any():
        reason = "the graph has no connection, nothing to train"
        raise ConfigError(source, field_name, [], reason)
    reached = ~topo.free
    frontier = np.flatnonzero(reached)
    while frontier.size:
        new = topo.mask[frontier].any(axis=0) & ~reached
        reached |= new
        frontier = np.flatnonzero(new)
    cut = [k for k in range(topo.output_slice.start, topo.n) if not reached[k]]
    if cut:
        k = cut[0]
        where = f"{field_name}: " if field_name else ""
        reason = (
            f"{where}output neuron {k} ({topo.role(k)}) has no path from the inputs or the "
            "bias: it cannot learn"
        )
        raise ConfigError(source, "", source, reason)


def _check_counts(n_inputs: int, n_hidden: int, n_outputs: int) -> None:
    if n_inputs < 0 or n_hidden < 0 or n_outputs < 1:
        raise ValueError(
            f"need inputs >= 0, hidden >= 0 and outputs >= 1, got {n_inputs}, {n_hidden}, "
            f"{n_outputs}"
        )
