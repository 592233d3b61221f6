"""docs/FORMAT.md: its examples are what eventwriter writes today, and every citation of it resolves."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "FORMAT.md"


def _make_examples():
    spec = importlib.util.spec_from_file_location("make_examples", ROOT / "docs" / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tracked_text_files():
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    names += subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in sorted(set(names)):
        path = ROOT / name
        if path.suffix in {".py", ".md", ".proto", ".pyi", ".toml", ""} and path.is_file():
            try:
                yield name, path.read_text()
            except UnicodeDecodeError:
                continue


def test_examples_in_the_guide_are_what_eventwriter_writes_now():
    make = _make_examples()
    in_guide = make.blocks(GUIDE.read_text())
    generated = make.generate()
    assert sorted(in_guide) == sorted(generated)
    for name, text in generated.items():
        assert in_guide[name] == text, f"example {name!r} is stale: run python docs/make_examples.py"


def test_check_mode_reports_a_stale_example(tmp_path, monkeypatch):
    make = _make_examples()
    stale = GUIDE.read_text().replace("= 0xe3069283", "= 0x00000000", 1)
    assert stale != GUIDE.read_text()
    copy = tmp_path / "FORMAT.md"
    copy.write_text(stale)
    monkeypatch.setattr(make, "GUIDE", copy)
    assert make.main(["--check"]) == 1
    assert make.main([]) == 0 and copy.read_text() == GUIDE.read_text()  # refreshing repairs it
    assert make.main(["--check"]) == 0
    with pytest.raises(ValueError, match="missing from the guide"):
        make.refresh("no blocks here", make.generate())


def _sections(guide: str):
    sections = set(re.findall(r"^##+ (\d+(?:\.\d+)?)\.?\s", guide, re.M))
    items = {int(n) for n in re.findall(r"^(\d+)\. ", guide.split("## 6.", 1)[1], re.M)}
    return sections, items


def test_every_citation_of_the_guide_resolves():
    sections, items = _sections(GUIDE.read_text())
    assert {"1", "1.1", "1.4", "2", "2.1", "3.5", "4", "5.6", "5.11", "6"} <= sections
    assert items == set(range(1, 19))
    cited = 0
    for name, text in _tracked_text_files():
        if name == "docs/FORMAT.md":
            continue
        for match in re.finditer(r"(\S*)FORMAT\.md", text):
            after = text[match.end() : match.end() + 60]
            refs = re.match(r"\s*(?:§|sections? )([\d.]+)((?:(?:,| and|/)\s*§?[\d.]+)*)(?: item (\d+))?", after)
            if refs is None:
                continue
            assert match.group(1).endswith("docs/"), f"{name}: cite docs/FORMAT.md, not {match.group(0)}"
            numbers = [refs.group(1)] + re.findall(r"[\d.]+", refs.group(2))
            for number in numbers:
                assert number.rstrip(".") in sections, f"{name}: docs/FORMAT.md §{number} does not exist"
                cited += 1
            if refs.group(3):
                assert int(refs.group(3)) in items, f"{name}: §6 item {refs.group(3)} does not exist"
    assert cited > 30


def test_every_section_sign_resolves():
    """A bare ``§N`` (FORMAT.md's own cross-references, a second citation further down a docstring)
    names a section of docs/FORMAT.md too: the only document numbered that way."""
    sections, _ = _sections(GUIDE.read_text())
    bad = []
    for name, text in _tracked_text_files():
        for match in re.finditer(r"§\s?(\d+(?:\.\d+)*)", text):
            if match.group(1).rstrip(".") not in sections:
                bad.append(f"{name}: §{match.group(1)}")
    assert not bad, bad


def test_no_citation_of_files_outside_the_repository():
    for name, text in _tracked_text_files():
        assert "USER_" + "NEEDS" not in text, name  # spelled in two parts so this file passes too
        assert "shared/" + "docs" not in text, name


def test_the_script_runs_from_anywhere(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "make_examples.py"), "--check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
