"""The README shows each main view of the console, in the screenshots its browser tests take."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_shows_a_screenshot_of_each_main_view_taken_by_the_browser_tests():
    # Given the screenshots tests/e2e/test_console.py writes (ARREARS_SCREENSHOTS=1 puts them in docs/screenshots/)
    taken = set(re.findall(r'shots / "(console-[a-z]+\.png)"', (ROOT / "tests" / "e2e" / "test_console.py").read_text()))
    assert taken >= {f"console-{view}.png" for view in ("today", "invoices", "invoice", "customer", "reports", "policies")}
    # Then the README shows every one of them, and each is in the repository
    shown = set(re.findall(r'<img src="docs/screenshots/(console-[a-z]+\.png)"', (ROOT / "README.md").read_text()))
    assert shown == taken
    for name in taken:
        assert (ROOT / "docs" / "screenshots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
