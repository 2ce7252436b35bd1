"""Learning rules as parts; importing this package registers the rules it ships."""

from deephw.rules import asym_ep, deep, sym_ep  # noqa: F401  (register the rules)
from deephw.rules.base import (
    LearningRule,
    NoOptions,
    Step,
    Update,
    make_rule,
    register_rule,
    rule_class,
    rule_names,
)

__all__ = [
    "LearningRule",
    "NoOptions",
    "Step",
    "Update",
    "make_rule",
    "register_rule",
    "rule_class",
    "rule_names",
]
