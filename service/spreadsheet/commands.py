"""File helpers for the ``stockpile`` command: read a workbook, write a template or a result."""

from __future__ import annotations

from pathlib import Path

from models import AllocationRequest, AllocationResult
from service.spreadsheet.csvio import allocation_csv
from service.spreadsheet.result import result_bytes
from service.spreadsheet.safety import Limits, limits_from
from service.spreadsheet.template import template_bytes
from service.spreadsheet.xlsx_reader import Book, read_workbook
from service.spreadsheet.xlsx_reader import read_book as _read_book


def _limits() -> Limits:
    from service.settings import Settings

    return limits_from(Settings())


def is_workbook(path: str | None) -> bool:
    return bool(path) and str(path).lower().endswith(".xlsx")


def read_request(path: str) -> AllocationRequest:
    """The request in a workbook; ``InvalidRequest``/``PayloadTooLarge`` as for an upload."""
    with open(path, "rb") as f:
        return read_workbook(f, _limits())


def read_book(path: str) -> Book:
    """The request and the Scenarios sheet's variants in a workbook; problems as for an upload."""
    with open(path, "rb") as f:
        return _read_book(f, _limits())


def write_template(path: str) -> None:
    Path(path).write_bytes(template_bytes())


def write_output(path: str, request: AllocationRequest, result: AllocationResult, source: str | None) -> None:
    """The result workbook (``.xlsx``, keeping ``source``'s input sheets, and comparing the scenarios of its
    Scenarios sheet) or the allocation table (``.csv``)."""
    if path.lower().endswith(".csv"):
        Path(path).write_text(allocation_csv(result), encoding="utf-8", newline="")
        return
    if source is not None and is_workbook(source):
        with open(source, "rb") as f:
            variants = _read_book(f, _limits()).variants
            comparison = None
            if variants:  # its Scenarios sheet: compared beside the allocation, as an upload is
                from analyses import LocalExecutor, compare
                from models.analyses import ComparisonRequest

                compared = ComparisonRequest.model_construct(request=request, variants=variants)
                comparison = (compared, compare(compared, LocalExecutor()))
            data = result_bytes(request, result, f, comparison)
    else:
        data = result_bytes(request, result)
    Path(path).write_bytes(data)
