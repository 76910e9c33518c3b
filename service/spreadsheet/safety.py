"""Untrusted files in, files for spreadsheet programs out.

In: an uploaded XLSX is a zip of XML parts. Before openpyxl sees it, the
archive is checked with bounded memory: the number of entries (read from the
end-of-central-directory record, before the directory itself is parsed), the
declared and the *actual* decompressed size (every member is inflated in
chunks and counted, stopping at the cap), and the absence of XML document
type declarations (no legitimate workbook has one; entity expansion attacks
need one). openpyxl itself parses with ``defusedxml`` as a second line.

Out: a text that a spreadsheet would read as a formula (starts with ``=``,
``+``, ``-``, ``@``, tab, CR or LF) is written so that it stays text: an
explicit string cell in XLSX, the OWASP ``'`` prefix in CSV.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, Any

import openpyxl

from models import Problem
from service.errors import InvalidRequest, PayloadTooLarge, StockpileError

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
_CHUNK = 64 * 1024
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_EOCD = b"PK\x05\x06"


@dataclass(frozen=True)
class Limits:
    """Caps applied to one uploaded file (from ``Settings``)."""

    max_upload_bytes: int = 10_000_000
    max_unzipped_bytes: int = 50_000_000
    max_zip_entries: int = 200
    max_rows: int = 50_001


def limits_from(settings: Any) -> Limits:
    return Limits(
        max_upload_bytes=settings.max_upload_bytes,
        max_unzipped_bytes=settings.max_unzipped_bytes,
        max_zip_entries=settings.max_zip_entries,
        max_rows=settings.max_sheet_rows,
    )


def needs_escape(text: str) -> bool:
    return text.startswith(FORMULA_TRIGGERS)


def csv_text(text: str) -> str:
    """OWASP: a field a spreadsheet would evaluate gets a leading apostrophe."""
    return "'" + text if needs_escape(text) else text


def csv_unescape(text: str) -> str:
    """The inverse of :func:`csv_text` for files this service wrote."""
    return text[1:] if text.startswith("'") and needs_escape(text[1:]) else text


def set_text(cell: Any, text: str) -> None:
    """Put text in an openpyxl cell as a string cell, never a formula.

    openpyxl's value setter turns any text starting with ``=`` into a formula;
    setting the type back to ``s`` afterwards makes it a plain shared string.
    """
    cell.value = text
    cell.data_type = "s"


def file_problem(message: str, code: str) -> InvalidRequest:
    return InvalidRequest([Problem(path="file", message=message, code=code)])


def require_defusedxml() -> None:
    """openpyxl must parse with defusedxml (it does when it is installed and not disabled)."""
    from openpyxl.worksheet import _reader

    if not (openpyxl.DEFUSEDXML and _reader.iterparse.__module__.startswith("defusedxml")):
        raise StockpileError("defusedxml is not in force for openpyxl; refusing to read uploaded workbooks.")


def _declared_entries(f: IO[bytes]) -> int | None:
    """Entry count from the end-of-central-directory record, without parsing the directory."""
    f.seek(0, 2)
    size = f.tell()
    tail = min(size, 22 + 65_535)
    f.seek(size - tail)
    data = f.read(tail)
    at = data.rfind(_EOCD)
    if at < 0 or at + 22 > len(data):
        return None
    return struct.unpack("<H", data[at + 10 : at + 12])[0]


def check_archive(f: IO[bytes], limits: Limits) -> None:
    """Reject anything that is not a small, plain XLSX zip, with bounded memory and time."""
    entries = _declared_entries(f)
    if entries is None:
        raise file_problem("the file is not an XLSX workbook (it is not a zip archive)", "not_xlsx")
    if entries >= 0xFFFF or entries > limits.max_zip_entries:
        raise file_problem(
            f"the workbook archive has too many parts (more than {limits.max_zip_entries})", "too_many_entries"
        )
    f.seek(0)
    try:
        archive = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, struct.error, OSError, ValueError, RuntimeError) as exc:
        raise file_problem(f"the file is not a readable XLSX workbook ({exc})", "not_xlsx") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_zip_entries:
            raise file_problem(
                f"the workbook archive has too many parts (more than {limits.max_zip_entries})", "too_many_entries"
            )
        if "xl/workbook.xml" not in {i.filename for i in infos}:
            raise file_problem("the file is a zip archive but not an XLSX workbook (no xl/workbook.xml)", "not_xlsx")
        too_big = PayloadTooLarge(
            f"The workbook expands to more than {limits.max_unzipped_bytes:,} bytes; split it or remove unused content."
        )
        if sum(i.file_size for i in infos) > limits.max_unzipped_bytes:
            raise too_big
        total = 0
        for info in infos:
            is_xml = info.filename.lower().endswith(_XML_SUFFIXES)
            carry = b""
            try:
                with archive.open(info) as member:
                    while chunk := member.read(_CHUNK):
                        total += len(chunk)
                        if total > limits.max_unzipped_bytes:
                            raise too_big
                        if is_xml:
                            window = (carry + chunk).upper()
                            if b"<!DOCTYPE" in window or b"<!ENTITY" in window:
                                raise file_problem(
                                    f"the part {info.filename} declares a document type or entities, which "
                                    "no workbook needs; the file is rejected as unsafe",
                                    "unsafe_xml",
                                )
                            carry = chunk[-16:]
            except (
                zipfile.BadZipFile,
                zlib.error,
                struct.error,
                OSError,
                ValueError,
                NotImplementedError,
                EOFError,
                RuntimeError,
            ) as exc:  # corrupt, truncated, encrypted or unsupported compression
                raise file_problem(f"the workbook part {info.filename} cannot be read ({exc})", "not_xlsx") from None
