"""Data sets: the built-in ``digits`` and loaders for CSV, NPZ and IDX (MNIST) files.

Every file is treated as hostile: a wrong magic number, a size the header declares but
the file does not hold (or that would not fit in memory), labels outside the classes,
values that are not numbers, or images and labels that do not pair up give one
:class:`~deephw.errors.ConfigError` naming the file. :mod:`deephw.data.source` turns
a run config's ``task`` section into training and test :class:`~deephw.data.task.Task`\\ s.

The package's ``__init__`` imports nothing, so that :mod:`deephw.tasks` can use its
modules without a cycle.
"""
