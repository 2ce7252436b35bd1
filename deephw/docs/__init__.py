"""deephw's documentation, generated from the code.

The reference pages of the documentation site come from here: every ``deephw`` command
and option (:mod:`deephw.docs.commands`, from the argument parsers), every run-config and
device-card field with its type, default, bounds, unit and description
(:mod:`deephw.docs.fields`, :mod:`deephw.docs.schema`, from the validated dataclasses),
and one page per shipped device card (:mod:`deephw.docs.pages`).
:mod:`deephw.docs.build` builds the site (``python -m deephw.docs``) and lists what is
undocumented.
"""
