"""Sphinx configuration of the lifevalue documentation (``make docs``).

The site is built offline into build/docs with warnings as errors. The notebooks
(docs/notebooks links to the repository's notebooks/) are executed at build time by
myst-nb, so that their tables and figures are those of the current code.
"""

from __future__ import annotations

import os

import lifevalue

project = "lifevalue"
author = "the lifevalue authors"
copyright = "the lifevalue authors"  # noqa: A001 - Sphinx's name
release = lifevalue.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_nb",  # Markdown pages (MyST) and executed notebooks
    "numpydoc",  # the docstrings are numpydoc
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "README.md"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

# -- MyST -------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

# -- notebooks: executed at build time, offline -------------------------------------
# "force": every build runs every notebook, so a figure never lags behind the code.
# LIFEVALUE_DOCS_EXECUTE=off renders them without outputs (quick edits of the prose).
nb_execution_mode = "force" if os.environ.get("LIFEVALUE_DOCS_EXECUTE", "on") != "off" else "off"
nb_execution_timeout = 600
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_show_tb = True
nb_merge_streams = True

# -- autodoc / numpydoc -----------------------------------------------------------
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc Parameters sections say the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- HTML -------------------------------------------------------------------------
html_theme = "furo"
html_title = f"lifevalue {release}"
html_static_path: list[str] = []
html_show_sourcelink = False


# -- the command-line guide (docs/cli.md) is listed when it exists -------------------
HERE = os.path.dirname(os.path.abspath(__file__))


def _cli_guide(app, docname, source):
    if docname == "index":
        present = os.path.exists(os.path.join(HERE, "cli.md"))
        source[0] = source[0].replace("GUIDE_CLI\n", "cli\n" if present else "")


def setup(app):
    app.connect("source-read", _cli_guide)
