"""Screenshots of a running console for the README (after ``make demo``).

    python scripts/console_screenshots.py          # logs in as the demo user

Drives Debian's chromium through Playwright, as the browser tests do.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8088")
    ap.add_argument("--user", default="demo")
    ap.add_argument("--password", default=None, help="default: the demo user's password file")
    args = ap.parse_args()
    if args.password is None:
        from streams.console.auth import users_path
        from streams.settings import Settings

        args.password = (users_path(Settings()).parent / "demo-password").read_text().strip()
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(base_url=args.url, viewport={"width": 1280, "height": 860})
        page.goto("/login")
        page.fill("input[name=username]", args.user)
        page.fill("input[name=password]", args.password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.goto("/followups")
        page.screenshot(path=str(OUT / "console-queue.png"))
        page.click("table a[href^='/followups/']")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(OUT / "console-followup.png"))
        browser.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
