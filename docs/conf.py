"""Sphinx configuration of deephw's documentation site.

Build it with ``python -m deephw.docs`` (or ``sphinx-build -W -b html docs
docs/_build/html``). The reference pages of the command line, the run config and the
device cards are generated from the code at every build (``reference/_generated/``), the
tutorials in ``tutorials/`` are executed by sphinx-gallery, and the concept figures are
drawn by the ``plot`` directive: nothing generated is committed.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import matplotlib

matplotlib.use("agg")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import deephw  # noqa: E402
from deephw.docs import build as docs_build  # noqa: E402

project = "deephw"
author = "the deephw authors"
copyright = "deephw authors, MIT licence"
release = version = deephw.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]

exclude_patterns = ["_build", "README.rst", "tutorials"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_heading_anchors = 3
templates_path = ["_templates"]
html_theme = "furo"
html_title = f"deephw {version}"
html_static_path = []
suppress_warnings: list[str] = []

# API reference: one page per public module, from the numpydoc docstrings.
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_typehints = "none"
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# Figures of the concept pages: drawn at build time from deephw itself.
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"figure.autolayout": True}

# Tutorials: executed at every build; their printed output and figures come from that run.
sphinx_gallery_conf = {
    "examples_dirs": ["tutorials"],
    "gallery_dirs": ["auto_tutorials"],
    "filename_pattern": r"/tut_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "show_memory": False,
    "image_scrapers": ("matplotlib",),
    "run_stale_examples": False,
    "plot_gallery": True,
}


def _skip_aliases(app, what, name, obj, skip, options):
    """Leave type aliases (``Problem = tuple[...]``) out: numpydoc cannot sign them."""
    return True if isinstance(obj, types.GenericAlias) else None


def setup(app):
    """Generate the reference pages before Sphinx reads the sources."""
    app.connect("builder-inited", docs_build.on_builder_inited)
    app.connect("autodoc-skip-member", _skip_aliases)
    app.connect("missing-reference", docs_build.resolve_reexport)
