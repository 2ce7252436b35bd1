"""Weight programs: a trained network as device targets for a chip's device groups.

- :func:`export_network` maps one network of a run onto tiles and device roles and
  splits its devices into groups (YAML): a :class:`WeightProgram` in memory (manifest,
  one table per group, pruned cells, card, the run's config and data files), which
  :func:`write_program` writes as a program directory atomically
  (:func:`export_program` does both);
- :func:`verify_chips` executes a program (in memory, or opened with :func:`open_program`) on
  freshly sampled simulated chips with iterative write-verify and returns a
  :class:`VerifyReport`: per group, and over time (drift, with and without global drift
  compensation); :func:`verify_program` does it for a directory and writes the report;
- :func:`import_network` turns a program, or measured conductances, back into the
  arrays of a run, and :func:`import_program` writes the run directory that
  ``deephw eval`` evaluates.
"""

from deephw.program.export import export_network, export_program, write_program
from deephw.program.groups import GroupsFile, assign_groups, default_groups, load_groups
from deephw.program.importing import ImportedNetwork, import_network, import_program
from deephw.program.layout import TileGeometry
from deephw.program.memory import ProgramContent, WeightProgram
from deephw.program.results import VerifyReport
from deephw.program.store import Program, open_program
from deephw.program.verify import VerifyResult, verify_chips, verify_program

__all__ = [
    "GroupsFile",
    "ImportedNetwork",
    "Program",
    "ProgramContent",
    "TileGeometry",
    "VerifyReport",
    "VerifyResult",
    "WeightProgram",
    "assign_groups",
    "default_groups",
    "export_network",
    "export_program",
    "import_network",
    "import_program",
    "load_groups",
    "open_program",
    "verify_chips",
    "verify_program",
    "write_program",
]
