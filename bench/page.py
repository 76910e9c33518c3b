"""How fast the web page is in Debian's chromium: first view, and the editor with 2,000 offers.

Serves the app (one solver worker) on a free loopback port in this process and, in headless
chromium at 1280x800, measures (median of ``--runs`` fresh page loads):

- first view: navigation start to the page ready (views offered shown, examples listed), and to
  the first contentful paint; ``first_*`` is the first load after the server started (nothing
  warm yet), the medians are of the loads after it;
- 2,000 offers: picking a request file with 2,000 offers until the editor shows its first page;
- a page change of the offers table (click to the next page shown).

    .venv/bin/python bench/page.py            # ~20 s
    .venv/bin/python bench/page.py --runs 10

The targets (first view under 1 s, the editor responsive with 2,000 offers) are
judged on these figures, not in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.reliability.conftest import live_server
from tests.service.page.conftest import CHROMIUM_ARGS, DESKTOP
from tests.service.page.test_page import many_offers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    figures: dict[str, list[float]] = {"ready_ms": [], "fcp_ms": [], "load_2000_ms": [], "page_change_ms": []}
    with tempfile.TemporaryDirectory() as tmp, live_server(workers=1) as server, sync_playwright() as p:
        server.wait_ready(workers=1)
        big = Path(tmp) / "big.json"
        big.write_text(json.dumps(many_offers(2000)))
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for _ in range(args.runs):
            context = browser.new_context(viewport=DESKTOP)
            page = context.new_page()
            page.goto(server.url + "/")
            page.wait_for_selector("body[data-ready=true]")
            figures["ready_ms"].append(page.evaluate("performance.now()"))
            fcp = page.evaluate("(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || 0")
            figures["fcp_ms"].append(fcp)
            began = time.perf_counter()
            page.get_by_label("Request (.json)").set_input_files(big)
            page.wait_for_function("document.querySelector('#offers-table caption')?.textContent.endsWith('of 2000')")
            figures["load_2000_ms"].append(1000 * (time.perf_counter() - began))
            began = time.perf_counter()
            page.get_by_role("button", name="Next page of offers", exact=True).click()
            page.wait_for_function(
                "document.querySelector('#offers-table caption').textContent.startsWith('Offers 51')"
            )
            figures["page_change_ms"].append(1000 * (time.perf_counter() - began))
            context.close()
        browser.close()
    for name in ("ready_ms", "fcp_ms"):
        print(f"first_{name:10s} {figures[name][0]:7.1f}")
        figures[name] = figures[name][1:] or figures[name]
    for name, values in figures.items():
        print(f"{name:16s} median {statistics.median(values):7.1f}  max {max(values):7.1f}  (n={len(values)})")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
