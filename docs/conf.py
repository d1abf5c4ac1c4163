"""Sphinx configuration of the skrnn documentation.

Build (from the repository root)::

    python -m pip install -e ".[docs]"
    python -m sphinx -b html -W --keep-going -j 1 docs docs/_build/html

The example gallery (``examples/``) is executed during the build by sphinx-gallery.
"""

import re
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("agg")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE / "sphinxext"))

import skrnn  # noqa: E402

project = "skrnn"
author = "skrnn developers"
copyright = "skrnn developers"
release = skrnn.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip"]
default_role = "literal"

# -- API reference ----------------------------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- Example gallery --------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "gallery_order.ExampleOrder",
    "doc_module": ("skrnn",),
    "reference_url": {"skrnn": None},
    "backreferences_dir": "gen_modules",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "min_reported_time": 1,
    "show_memory": False,
    "plot_gallery": "True",
    "download_all_examples": False,
}
# Examples print their own warnings when they matter; the Agg backend cannot show figures.
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")
warnings.filterwarnings("ignore", message="FigureCanvasAgg is non-interactive")

# -- HTML -------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skrnn {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_sidebars = {"index": []}
html_show_sourcelink = True

# -- The speed page: benchmarks/README.md, converted at build time ------------------------------
BENCH = ROOT / "benchmarks" / "README.md"
SPEED_OUT = HERE / "user_guide" / "_speed_tables.rst.inc"


def _inline(text):
    """Markdown inline markup to reStructuredText: code, bold, links; escape the rest.

    Every generated markup is wrapped in escaped spaces (``\\ ``), which reST drops, so it
    is recognised even when a word character touches it.
    """
    out = []
    for part in re.split(r"(`[^`]+`)", text):
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append("\\ ``" + part[1:-1] + "``\\ ")
            continue
        part = part.replace("\\", "\\\\")
        links = []
        part = re.sub(r"\[([^\]]+)\]\(([^)]+)\)",
                      lambda m: links.append(f"\\ `{m.group(1)} <{m.group(2)}>`__\\ ")
                      or f"\x00{len(links) - 1}\x00", part)
        part = re.sub(r"\*\*([^*]+)\*\*", "\\\\ \x02\\1\x02\\\\ ", part)
        part = part.replace("*", "\\*").replace("_", "\\_").replace("|", "\\|")
        part = part.replace("`", "\\`")
        part = part.replace("\x02", "**")
        part = re.sub("\x00(\\d+)\x00", lambda m: links[int(m.group(1))], part)
        out.append(part)
    return "".join(out)


def _table(rows):
    """Markdown pipe-table lines to an rST list-table."""
    cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
    cells = [r for r in cells if not all(re.fullmatch(r":?-{2,}:?", c) for c in r if c)]
    width = max(len(r) for r in cells)
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for r in cells:
        r = r + [""] * (width - len(r))
        lines.append("   * - " + (_inline(r[0]) or " "))
        lines += ["     - " + (_inline(c) or " ") for c in r[1:]]
    return lines + [""]


def _speed_tables(markdown):
    """The headings and tables of benchmarks/README.md, with the text between them."""
    out, lines, i = [], markdown.splitlines(), 0
    in_code = in_list = False
    marks = {1: "-", 2: "-", 3: "~", 4: "^"}
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("```"):
            if not in_code:
                out += ["", ".. code-block:: text", ""]
            else:
                out.append("")
            in_code = not in_code
            i += 1
            continue
        if in_code:
            out.append("   " + line)
            i += 1
            continue
        heading = re.match(r"^(#{1,4})\s+(.*)$", line)
        if heading:
            if len(heading.group(1)) == 1:  # the file's own title: the page has one already
                i += 1
                continue
            title = _inline(heading.group(2).strip())
            out += ["", title, marks[len(heading.group(1))] * max(len(title), 3), ""]
            i += 1
            continue
        if line.lstrip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(lines[i])
                i += 1
            out += [""] + _table(rows)
            continue
        item = re.match(r"^(\s*)(?:[-*+]|\d+[.)])\s+(.*)$", line)
        if item:
            if out and out[-1].strip() and not in_list:
                out.append("")  # reST wants a blank line before a list
            in_list = True
            out.append(f"{item.group(1)}- {_inline(item.group(2))}")
        elif not line.strip():
            in_list = False
            out.append("")
        elif in_list and line.startswith(" "):
            out.append("  " + _inline(line.strip()))  # continuation of a list item
        else:
            if in_list:
                out.append("")
                in_list = False
            out.append(_inline(line.strip()))
        i += 1
    return "\n".join(out) + "\n"


def _write_speed_tables():
    if BENCH.exists() and "|" in BENCH.read_text(encoding="utf-8"):
        text = (".. This file is generated from benchmarks/README.md by docs/conf.py.\n\n"
                + _speed_tables(BENCH.read_text(encoding="utf-8")))
    else:
        text = (".. This file is generated by docs/conf.py.\n\n"
                ".. note::\n\n   ``benchmarks/README.md`` holds no measured table yet. Run the "
                "benchmark scripts in ``benchmarks/`` to measure this machine.\n")
    if not SPEED_OUT.exists() or SPEED_OUT.read_text(encoding="utf-8") != text:
        SPEED_OUT.write_text(text, encoding="utf-8")


_write_speed_tables()
