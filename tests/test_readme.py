"""The README's promises: the quick start and the five-line example run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quick_start_is_exactly_two_commands():
    text = README.read_text()
    block = re.search(r"## Quick start\n\n```\n(.*?)```", text, re.S).group(1)
    assert block.strip().splitlines() == ["make demo", "make test"]


def test_five_line_example_runs():
    text = README.read_text()
    code = re.search(r"## Five lines of Python\n\n```python\n(.*?)```", text, re.S).group(1)
    assert len(code.strip().splitlines()) == 5
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - our own README
    result = scope["result"]
    assert len(result.customers) == 2357
    assert result.base.loc["potential", "mean"] > result.base.loc["current", "mean"] > 0
    assert scope["bg"].converged and scope["gg"].converged


def test_docs_home_page_shows_the_same_five_lines():
    docs = (README.parent / "docs" / "index.md").read_text()
    pattern = r"## Five lines of Python\n\n```python\n(.*?)```"
    assert (re.search(pattern, docs, re.S).group(1)
            == re.search(pattern, README.read_text(), re.S).group(1))
