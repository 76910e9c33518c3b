"""Spreadsheet adapters: XLSX template and result workbooks, CSV in and out.

File formats only: requests are validated by ``models`` and solved elsewhere.

- ``template_bytes(request=None, variants=None)``: the input template (dla-2025 and
  its two scenarios by default).
- ``read_workbook(file, limits)``: an uploaded workbook -> ``AllocationRequest``
  (``InvalidRequest`` lists every problem by cell, e.g. ``Suppliers!E7``);
  ``xlsx_reader.read_book``: the request and the Scenarios sheet's variants.
- ``result_bytes(request, result, source=None, comparison=None)``: inputs + Allocation,
  Mineral summary, Diagnostics and Charts sheets (+ the comparison's sheets).
- ``comparison.comparison_workbook(comparison, result)``: scenarios side by side.
- ``allocation_csv(result)``, ``read_csv_request(...)``: CSV for spreadsheet tools;
  ``csvio.comparison_csv``, ``frontier_csv``, ``policy_costs_csv``: the analyses' tables.
"""

from service.spreadsheet.safety import Limits, limits_from
from service.spreadsheet.template import template_bytes
from service.spreadsheet.xlsx_reader import read_workbook

__all__ = ["Limits", "limits_from", "read_workbook", "template_bytes"]
