"""The README stays a front door and the documentation's links lead somewhere.

The README once grew into a 1,130-line lab notebook; these checks keep it short, keep dated
measurement history out of it (that belongs in CHANGELOG.md and bench/results/HISTORY.md),
and make every relative link in README.md, docs/*.md, CHANGELOG.md and bench/results/HISTORY.md
point at a file or folder that exists (and, for a link to a heading, at a heading that exists).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
HISTORY = [ROOT / "CHANGELOG.md", ROOT / "bench" / "results" / "HISTORY.md"]
MAX_README_LINES = 200

# [text](target) — inline links only; the target ends at the first space or ")"
_LINK = re.compile(r"\[(?:[^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_FENCE = re.compile(r"^(```|~~~)")
_DATE = re.compile(r"20\d\d-\d\d-\d\d")


def _prose_lines(path: Path) -> list[str]:
    """The lines outside fenced code blocks (a link inside a code sample is not a link)."""
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def _links(path: Path) -> list[str]:
    return [m.group(1) for line in _prose_lines(path) for m in _LINK.finditer(line)]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {
        _slug(line.lstrip("#"))
        for line in _prose_lines(path)
        if re.match(r"^#{1,6} ", line)
    }


def _is_external(target: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", target))  # http:, https:, mailto:


def test_readme_is_a_front_door_of_at_most_200_lines() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines (at most {MAX_README_LINES}): move detail to docs/"
    )


def test_readme_has_no_dated_entries() -> None:
    dated = [
        f"{n}: {line}"
        for n, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1)
        if _DATE.search(line)
    ]
    assert not dated, (
        "dated entries belong in CHANGELOG.md or bench/results/HISTORY.md, not the README:\n"
        + "\n".join(dated)
    )


def test_docs_folder_has_the_promised_files() -> None:
    names = {p.name for p in DOCS}
    for expected in (
        "architecture.md", "local-stack.md", "models.md", "operations.md", "reliability.md",
        "security.md", "configuration.md", "benchmarks.md", "console.md",
    ):
        assert expected in names, f"docs/{expected} is missing"


@pytest.mark.parametrize("doc", [README, *DOCS, *HISTORY], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_something_that_exists(doc: Path) -> None:
    links = _links(doc)
    assert doc != README or links, "the README links nowhere: it should point into docs/"
    broken = []
    for target in links:
        if _is_external(target):
            continue
        path_part, _, anchor = target.partition("#")
        dest = (doc.parent / unquote(path_part)).resolve() if path_part else doc
        if not dest.exists():
            broken.append(f"{target} (no such file or folder)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading #{anchor} in {dest.relative_to(ROOT)})")
    assert not broken, f"broken links in {doc.relative_to(ROOT)}: {broken}"


def test_readme_links_every_doc() -> None:
    linked = {
        (README.parent / t.partition("#")[0]).resolve()
        for t in _links(README)
        if not _is_external(t)
    }
    unlinked = [p.name for p in DOCS if p.resolve() not in linked]
    assert not unlinked, f"docs not reachable from the README in one hop: {unlinked}"


def test_link_checker_sees_a_broken_link(tmp_path: Path) -> None:
    """The checker itself: a missing file and a missing heading are both found."""
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n[ok](page.md#title) [gone](missing.md) [bad](page.md#nope)\n"
        "```\n[in code](ignored.md)\n```\n",
        encoding="utf-8",
    )
    assert _links(page) == ["page.md#title", "missing.md", "page.md#nope"]
    assert _anchors(page) == {"title"}
    assert _slug("Metrics (Prometheus, on the worker's web port at `/metrics`)") == (
        "metrics-prometheus-on-the-workers-web-port-at-metrics"
    )
