"""Screenshot the web page with the dla-2025 example solved (docs/page.png), in Debian's chromium.

    make run &                                        # a server on :8000
    .venv/bin/python scripts/page_screenshot.py       # -> docs/page.png (1280x800)
    .venv/bin/python scripts/page_screenshot.py --width 390 --height 844 --out /tmp/phone.png

The page is opened at the given viewport, the example loaded and solved, and the view
scrolled to the result's status; only the viewport is captured.
"""

from __future__ import annotations

import argparse
import shutil

from playwright.sync_api import sync_playwright

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/")
    parser.add_argument("--out", default="docs/page.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--full-page", action="store_true")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(args.url)
        page.wait_for_selector("body[data-ready=true]")
        page.get_by_label("Example", exact=True).select_option("dla-2025")
        page.get_by_role("button", name="Load example").click()
        page.wait_for_function("document.getElementById('source').textContent.includes('Loaded the example')")
        page.get_by_role("button", name="Solve", exact=True).click()
        page.wait_for_function(
            "document.getElementById('solve-status').textContent.startsWith('Solved')", timeout=60_000
        )
        page.wait_for_selector("#coverage-chart[data-drawn=true]")
        page.wait_for_selector("#country-chart[data-drawn=true]")
        page.screenshot(path=args.out, full_page=args.full_page)
        browser.close()
    print(args.out)


if __name__ == "__main__":
    main()
