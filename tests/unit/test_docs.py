"""The docs a newcomer reads: every relative link in README.md, ARCHITECTURE.md and docs/ points at a file
that exists, every file path ARCHITECTURE.md names in backticks is there, and so is every module it names."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_relative_link_in_the_docs_points_at_a_file():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not re.match(r"^[a-z]+://", target) and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken


def test_the_files_architecture_md_names_exist():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    named = set(re.findall(r"`((?:tracker|gallery|pipelines|tests|scripts|docs)/[\w/.-]+)`", text))
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert len(named) > 10 and not missing, missing


def test_every_module_architecture_md_names_exists():
    """A module named anywhere in ARCHITECTURE.md (``sources.py``, ``live/sources.py``, in backticks or in the
    diagrams) is a file of the tree whose path ends so."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    named = set(re.findall(r"(?<![\w/.-])((?:[a-z_]+/)*[a-z_][a-z0-9_]*\.py)\b", text))
    tree = ["/" + str(path.relative_to(ROOT)) for folder in ("tracker", "gallery", "pipelines", "tests", "scripts")
            for path in (ROOT / folder).rglob("*.py")]
    missing = sorted(name for name in named if not any(path.endswith("/" + name) for path in tree))
    assert len(named) > 40 and not missing, missing
