"""Learning rules as parts; importing this package registers ``deep`` and ``asym_ep``."""

from deephw.rules import asym_ep, deep  # noqa: F401  (register the rules)
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
