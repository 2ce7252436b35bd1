"""Weight programs: a trained network as device targets for a chip's device groups.

- :func:`export_program` maps one network of a run onto tiles and device roles, splits
  its devices into groups (YAML) and writes a program directory (manifest, one table per
  group, pruned cells) atomically;
- :func:`verify_program` executes a program on freshly sampled simulated chips with
  iterative write-verify and reports per group and over time (drift, with and without
  global drift compensation);
- :func:`import_program` turns a program, or a CSV of measured conductances, back into a
  run directory that ``deephw eval`` evaluates.
"""

from deephw.program.export import export_program
from deephw.program.groups import GroupsFile, assign_groups, default_groups, load_groups
from deephw.program.importing import import_program
from deephw.program.layout import TileGeometry
from deephw.program.store import Program, open_program
from deephw.program.verify import VerifyResult, verify_program

__all__ = [
    "GroupsFile",
    "Program",
    "TileGeometry",
    "VerifyResult",
    "assign_groups",
    "default_groups",
    "export_program",
    "import_program",
    "load_groups",
    "open_program",
    "verify_program",
]
