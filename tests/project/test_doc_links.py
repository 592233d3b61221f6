"""Every relative link of README.md and docs/*.md (and benchmarks/README.md) reaches an existing
file, and its ``#anchor``, when it has one, a heading of that file (issue 16 item 16)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?\s*\)")


def _prose(text: str) -> str:
    """``text`` without fenced blocks and inline code, where brackets are not links."""
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip()).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading keeps its text
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(page: Path) -> set:
    found, seen = set(), {}
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", _prose_keep_headings(page.read_text()), re.M):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    found.update(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", page.read_text()))
    return found


def _prose_keep_headings(text: str) -> str:
    return re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.M | re.S)


def links(page: Path):
    text = _prose(page.read_text())
    for match in list(LINK.finditer(text)) + list(IMAGE.finditer(text)):
        target = match.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        yield target


def test_pages_exist_and_hold_links():
    assert (ROOT / "docs" / "cli.md").exists()
    assert sum(1 for page in PAGES for _ in links(page)) > 20


def broken_links(pages) -> list:
    """One line per link of ``pages`` that reaches no file, or no heading of it."""
    broken = []
    for page in pages:
        for target in links(page):
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(ROOT) if page.is_relative_to(ROOT) else page}: ({target})"
            if not resolved.exists():
                broken.append(f"{where}: no file {resolved.relative_to(ROOT) if resolved.is_relative_to(ROOT) else resolved}")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{where}: no heading with anchor #{anchor}")
    return broken


def test_every_relative_link_resolves():
    broken = broken_links(PAGES)
    assert not broken, "\n".join(broken)


def test_a_missing_file_or_heading_is_reported(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## A section\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#a-section) [gone](missing.md) [bad anchor](other.md#nope) [self](#top)\n"
                    "`[code](not-a-link.md)` [web](https://example.com/x.md)\n\n# Top\n")
    assert [line.split(": ", 2)[1:] for line in broken_links([page])] == [
        ["(missing.md)", f"no file {tmp_path / 'missing.md'}"],
        ["(other.md#nope)", "no heading with anchor #nope"],
    ]


def test_slugs_follow_github():
    assert slug("5.6 Step order and purging") == "56-step-order-and-purging"
    assert slug("The `eventwriter` command") == "the-eventwriter-command"
    assert slug("Training on several processes (torchrun, DDP)") == "training-on-several-processes-torchrun-ddp"
