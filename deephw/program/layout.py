"""Where each cell of a network sits on the chip: tiles of ``rows`` x ``cols`` cells.

Cell ``(i, j)`` of the ``N x N`` weight matrix (row ``i``: presynaptic neuron, the bias
neuron's row included; column ``j``: postsynaptic neuron) lies on tile
``(i // rows) * grid_cols + j // cols``, at tile row ``i % rows`` and tile column
``j % cols``. A network larger than a tile spans several; tiles are numbered row-major
over the grid whether or not they hold devices, so a tile's number depends only on the
geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deephw.errors import DeephwError, quote


@dataclass(frozen=True)
class TileGeometry:
    """Tiles of ``rows`` x ``cols`` cells over an ``n`` x ``n`` weight matrix."""

    rows: int
    cols: int
    n: int

    def __post_init__(self) -> None:
        for name in ("rows", "cols", "n"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise DeephwError(
                    f"tile geometry: {name} must be an integer >= 1, got {quote(value)}"
                )

    @property
    def grid(self) -> tuple[int, int]:
        """Tiles along the matrix rows and along its columns."""
        return -(-self.n // self.rows), -(-self.n // self.cols)

    @property
    def n_tiles(self) -> int:
        """Number of tiles in the grid (some may hold no device)."""
        rows, cols = self.grid
        return rows * cols

    def address(self, pre: np.ndarray, post: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(tile, row, column)`` of cells ``pre -> post``."""
        pre, post = np.asarray(pre), np.asarray(post)
        tile = (pre // self.rows) * self.grid[1] + post // self.cols
        return tile, pre % self.rows, post % self.cols

    def origin(self, tile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First matrix row and column covered by ``tile``."""
        tile = np.asarray(tile)
        return (tile // self.grid[1]) * self.rows, (tile % self.grid[1]) * self.cols

    def cell(
        self, tile: np.ndarray, row: np.ndarray, column: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(pre, post, valid)`` of tile addresses; ``valid`` is False where the address
        lies outside the grid or beyond the matrix."""
        tile, row, column = (np.asarray(v, dtype=np.int64) for v in (tile, row, column))
        row0, col0 = self.origin(tile)
        pre, post = row0 + row, col0 + column
        valid = (tile >= 0) & (tile < self.n_tiles)
        valid &= (row >= 0) & (row < self.rows) & (column >= 0) & (column < self.cols)
        valid &= (pre < self.n) & (post < self.n)
        return pre, post, valid

    def tile_map(self) -> np.ndarray:
        """``(N, N)`` tile number of every cell."""
        index = np.arange(self.n)
        return self.address(index[:, None], index[None, :])[0]

    def extent(self, tile: int) -> tuple[int, int, int, int]:
        """``(first row, last row, first column, last column)`` of the matrix on ``tile``."""
        row0, col0 = (int(v) for v in self.origin(tile))
        last_row = min(row0 + self.rows, self.n) - 1
        last_col = min(col0 + self.cols, self.n) - 1
        return row0, last_row, col0, last_col
