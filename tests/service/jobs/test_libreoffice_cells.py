"""A workbook whose cells call WEBSERVICE on the running server, recalculated in headless LibreOffice.

LibreOffice refuses to fetch a loaded document's WEBSERVICE links until the user allows
it (Err:540). The test runs LibreOffice on a throwaway profile with a Basic macro that opens
the workbook as a user who allows updating links would (``UpdateDocMode`` FULL_UPDATE, in a
profile that trusts documents' links), updates the links, recalculates, and saves the values
as CSV, which the test compares with what the API answers directly.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.reliability.conftest import live_server
from tests.service.jobs.conftest import small_request

pytestmark = pytest.mark.slow

BUDGETS = [300_000.0, 500_000.0, 1_000_000.0]
MACRO = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">
<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1" script:language="StarBasic">
Sub Recalc(sIn As String, sOut As String)
    Dim aLoad(1) As New com.sun.star.beans.PropertyValue
    aLoad(0).Name = &quot;Hidden&quot;
    aLoad(0).Value = True
    aLoad(1).Name = &quot;UpdateDocMode&quot;
    aLoad(1).Value = com.sun.star.document.UpdateDocMode.FULL_UPDATE
    oDoc = StarDesktop.loadComponentFromURL(sIn, &quot;_blank&quot;, 0, aLoad())
    oHelper = createUnoService(&quot;com.sun.star.frame.DispatchHelper&quot;)
    oFrame = oDoc.getCurrentController().getFrame()
    oHelper.executeDispatch(oFrame, &quot;.uno:UpdateTableLinks&quot;, &quot;&quot;, 0, Array())
    oDoc.calculateAll()
    Dim aStore(1) As New com.sun.star.beans.PropertyValue
    aStore(0).Name = &quot;FilterName&quot;
    aStore(0).Value = &quot;Text - txt - csv (StarCalc)&quot;
    aStore(1).Name = &quot;FilterOptions&quot;
    aStore(1).Value = &quot;44,34,76,1,,0,false,true,false&quot;
    oDoc.storeToURL(sOut, aStore())
    oDoc.close(True)
    StarDesktop.terminate()
End Sub
</script:module>
"""
SETTING = (
    '<item oor:path="/org.openoffice.Office.Common/Security/Scripting">'
    '<prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>0</value></prop></item>'
)


def _soffice(soffice: str, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = f"-env:UserInstallation={(root / 'profile').as_uri()}"
    return subprocess.run(  # noqa: PLW1510 - the caller checks what it produced
        [soffice, profile, "--headless", "--norestore", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HOME": str(root)},
    )


def _profile(soffice: str, root: Path) -> None:
    """A new LibreOffice user profile, with the macro above as its Module1 and links trusted."""
    _soffice(soffice, root, "--terminate_after_init")
    user = root / "profile" / "user"
    (user / "basic" / "Standard" / "Module1.xba").write_text(MACRO)
    settings = user / "registrymodifications.xcu"
    settings.write_text(settings.read_text().replace("</oor:items>", SETTING + "</oor:items>"))


def _workbook(path: Path, base: str, token: str) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["budget", "coverage_score", "total_spend", "quantity:b"])
    for row, budget in enumerate(BUDGETS, start=2):
        cells = [budget]
        for metric in ("coverage_score", "total_spend", "quantity:b"):
            url = f'"{base}/v1/scenarios/dla/value?metric={metric}&token={token}&budget="&A{row}'
            cells.append(f"=VALUE(_xlfn.WEBSERVICE({url}))")  # (_xlfn.: how Excel files name WEBSERVICE)
        ws.append(cells)
    wb.save(path)


def test_libreoffice_recalculates_cells_that_call_the_server(tmp_path: Path) -> None:
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice is required: `make test` installs libreoffice-calc (apt) when it is missing"
    database = f"sqlite:///{tmp_path / 'stockpile.db'}"
    with live_server(workers=1, database_url=database, api_keys="key") as server:
        server.wait_ready()
        with server.client(headers={"X-API-Key": "key"}) as api:
            assert api.put("/v1/scenarios/dla", json={"request": small_request()}).status_code == 201
            token = api.post("/v1/scenarios/dla/tokens").json()["token"]
            expected = [api.post("/v1/allocations", json=small_request(b)).json() for b in BUDGETS]
        book, out = tmp_path / "cells.xlsx", tmp_path / "cells.csv"
        _workbook(book, server.url, token)
        _profile(soffice, tmp_path)
        done = _soffice(soffice, tmp_path, f'macro:///Standard.Module1.Recalc("{book.as_uri()}","{out.as_uri()}")')
        assert out.exists(), done.stderr
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["budget", "coverage_score", "total_spend", "quantity:b"]
    for row, want in zip(rows[1:], expected, strict=True):
        bought_b = sum(a["quantity"] for a in want["allocations"] if a["supplier_id"] == "b")
        assert [float(v) for v in row[1:]] == pytest.approx(
            [want["coverage_score"], want["total_spend"], bought_b], rel=1e-12
        ), row
    assert len({r[1] for r in rows[1:]}) == len(BUDGETS)  # each budget its own answer
