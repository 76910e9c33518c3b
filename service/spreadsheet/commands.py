"""File helpers for the ``stockpile`` command: read a workbook, write a template or a result."""

from __future__ import annotations

from pathlib import Path

from models import AllocationRequest, AllocationResult
from service.spreadsheet.csvio import allocation_csv
from service.spreadsheet.result import result_bytes
from service.spreadsheet.safety import Limits, limits_from
from service.spreadsheet.template import template_bytes
from service.spreadsheet.xlsx_reader import read_workbook


def _limits() -> Limits:
    from service.settings import Settings

    return limits_from(Settings())


def is_workbook(path: str | None) -> bool:
    return bool(path) and str(path).lower().endswith(".xlsx")


def read_request(path: str) -> AllocationRequest:
    """The request in a workbook; ``InvalidRequest``/``PayloadTooLarge`` as for an upload."""
    with open(path, "rb") as f:
        return read_workbook(f, _limits())


def write_template(path: str) -> None:
    Path(path).write_bytes(template_bytes())


def write_output(path: str, request: AllocationRequest, result: AllocationResult, source: str | None) -> None:
    """The result workbook (``.xlsx``, keeping ``source``'s input sheets) or the allocation table (``.csv``)."""
    if path.lower().endswith(".csv"):
        Path(path).write_text(allocation_csv(result), encoding="utf-8", newline="")
        return
    if source is not None and is_workbook(source):
        with open(source, "rb") as f:
            data = result_bytes(request, result, f)
    else:
        data = result_bytes(request, result)
    Path(path).write_bytes(data)
