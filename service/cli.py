"""The ``stockpile`` command line.

stockpile serve [--host H] [--port P]
stockpile solve FILE|- [--json] [--write-model MODEL.lp]
stockpile solve --example dla-2025 [--json]
stockpile examples
stockpile template OUT.xlsx
stockpile solve BOOK.xlsx [-o RESULT.xlsx|RESULT.csv]
stockpile compare|frontier|policy-costs ...   (the what-if analyses: service/analyses_cli.py)
stockpile db upgrade
stockpile stress|robust ... (service/stress_cli.py)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from models import AllocationRequest, AllocationResult, problems_from_validation_error
from service import examples, stress_cli
from service.errors import StockpileError
from service.spreadsheet import commands as sheets
from solvers import SolverError, allocate, left_running, write_model

EXIT_OK, EXIT_INVALID, EXIT_INFEASIBLE, EXIT_FAILED = 0, 2, 3, 4


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stockpile", description="Critical-minerals purchase optimiser.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default=None, help="address to listen on (default: STOCKPILE_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default: STOCKPILE_PORT or 8000)")

    solve = sub.add_parser("solve", help="solve a request and print the allocation")
    solve.add_argument(
        "file", nargs="?", help="request: a JSON file, a workbook (.xlsx), or - for JSON on standard input"
    )
    solve.add_argument("--example", choices=examples.names(), help="solve a built-in example instead")
    solve.add_argument("--json", action="store_true", help="print the full result as JSON")
    solve.add_argument(
        "-o", "--output", help="also write the result: a workbook (.xlsx) or the allocation table (.csv)"
    )
    solve.add_argument(
        "--write-model",
        metavar="MODEL.lp",
        help="also write the engine's Pyomo model with Pyomo's LP writer (max_coverage: its first stage)",
    )

    sub.add_parser("examples", help="list the built-in examples")
    template = sub.add_parser("template", help="write the input workbook template (pre-filled with dla-2025)")
    template.add_argument("out", help="where to write it, e.g. allocation.xlsx")
    stress_cli.add_commands(sub)  # stress, robust (service/stress_cli.py)

    # The what-if analyses: compare, frontier, policy-costs.
    from service import analyses_cli

    analyses_cli.add_parsers(sub)

    db = sub.add_parser("db", help="the jobs and scenarios database (STOCKPILE_DATABASE_URL)")
    db.add_argument("action", choices=["upgrade"], help="upgrade: apply the migrations not yet applied")

    args = parser.parse_args(argv)
    if args.command in analyses_cli.COMMANDS:
        return analyses_cli.run(args, parser)
    if args.command == "db":
        return _db_upgrade()
    if args.command == "solve" and args.output and not args.output.lower().endswith((".xlsx", ".csv")):
        parser.error(f"-o {args.output}: give a .xlsx (result workbook) or .csv (allocation table) file name")
    if args.command in stress_cli.COMMANDS:
        return stress_cli.run(args)
    if args.command == "serve":
        return _serve(args.host, args.port)
    if args.command == "template":
        return _write(args.out, lambda: sheets.write_template(args.out))
    if args.command == "examples":
        for e in examples.catalogue().values():
            print(f"{e['name']}: {e['title']}")
        return EXIT_OK
    return _solve(args, parser)


def _settings(**overrides: object):
    """The settings (STOCKPILE_* variables, then ``overrides``), or None with each problem printed."""
    from service.settings import Settings

    try:
        return Settings(**overrides)
    except ValidationError as exc:  # the settings' fault, not the request's
        print("stockpile: invalid settings:", file=sys.stderr)
        for p in problems_from_validation_error(exc):
            print(f"  {p.path}: {p.message} (STOCKPILE_{p.path.upper()}, or the option of that name)", file=sys.stderr)
        return None


def _write(path: str, write) -> int:
    """Run ``write``, a file's writing; an unwritable ``path`` is reported, not raised."""
    try:
        write()
    except OSError as exc:
        print(f"stockpile: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def _serve(host: str | None, port: int | None) -> int:
    from service.server import serve

    settings = _settings(**{k: v for k, v in (("host", host), ("port", port)) if v is not None})
    if settings is None:
        return EXIT_INVALID
    serve(settings)  # returns after a SIGTERM drain: a clean exit
    return EXIT_OK


def _db_upgrade() -> int:
    from service.storage import Database

    settings = _settings()
    if settings is None:
        return EXIT_INVALID
    database = Database(settings.database())
    try:
        database.upgrade()
    finally:
        database.close()
    print(f"stockpile: the database is up to date ({database.engine.url.render_as_string(hide_password=True)})")
    return EXIT_OK


def _solve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.example:
        raw = examples.catalogue()[args.example]["request"]
    elif sheets.is_workbook(args.file):
        raw = None  # read below, with problems reported by sheet and cell
    elif args.file:
        try:
            text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
            raw = json.loads(text)
        except UnicodeDecodeError:
            print(f"stockpile: {args.file} is not text: give a JSON request or an .xlsx workbook", file=sys.stderr)
            return EXIT_INVALID
        except (OSError, ValueError) as exc:
            print(f"stockpile: cannot read {args.file}: {exc}", file=sys.stderr)
            return EXIT_INVALID
    else:
        parser.error("give a request FILE (or -) or --example NAME")
    if _settings() is None:  # (a workbook is read under their size limits)
        return EXIT_INVALID
    try:
        request = AllocationRequest.model_validate(raw) if raw is not None else sheets.read_request(args.file)
    except StockpileError as exc:
        print(f"stockpile: {args.file}: {exc.detail}", file=sys.stderr)
        for p in getattr(exc, "problems", []):
            print(f"  {p.path}: {p.message}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"stockpile: cannot read {args.file}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except ValidationError as exc:
        print("stockpile: the request is invalid:", file=sys.stderr)
        for p in problems_from_validation_error(exc):
            print(f"  {p.path}: {p.message}", file=sys.stderr)
        return EXIT_INVALID
    if args.write_model:
        code = _write(args.write_model, lambda: write_model(request, args.write_model))
        if code != EXIT_OK:
            return code
    try:
        result = allocate(request)
    except SolverError as exc:
        print(f"stockpile: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except MemoryError:
        print(
            "stockpile: the model needs more memory than there is; send fewer suppliers, tiers or minerals",
            file=sys.stderr,
        )
        return EXIT_FAILED
    written = EXIT_OK
    if args.output:  # the file first: a reader that stops early (| head) must not cost it
        written = _write(args.output, lambda: sheets.write_output(args.output, request, result, args.file))
    try:
        if args.json:
            print(result.model_dump_json(indent=2))
        else:
            print_table(result, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # `stockpile solve ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if written != EXIT_OK:
        return written
    return EXIT_INFEASIBLE if result.status.value == "infeasible" else EXIT_OK


def print_table(result: AllocationResult, out: TextIO) -> None:
    """A readable summary: status line, allocation table, minerals, findings."""
    w = out.write
    w(f"status: {result.status.value}   objective: {result.objective.value}")
    if result.coverage_score is not None:
        w(f"   coverage score: {result.coverage_score:.4f}")
    w(f"\nspend: {result.total_spend:,.0f} of {result.budget:,.0f} (remaining {result.budget_remaining:,.0f})")
    w(f"   solved in {result.solve_seconds:.3f} s\n")
    if result.allocations:
        rows = [
            (
                a.supplier_id,
                a.supplier[:32],
                a.mineral,
                a.country,
                f"{a.quantity:,.6g}",
                f"{a.spend:,.0f}",
                f"{a.average_unit_price:,.2f}",
                "" if a.premium_vs_market is None else f"{a.premium_vs_market:+.1%}",
            )
            for a in result.allocations
        ]
        _table(w, ("offer", "supplier", "mineral", "country", "quantity", "spend", "avg price", "vs market"), rows)
    rows = [
        (
            m.id,
            f"{m.quantity:,.6g} {m.unit}",
            f"{m.target:,.6g}",
            f"{m.coverage:.1%}",
            f"{m.spend:,.0f}",
            str(m.suppliers_used),
            ", ".join(f"{c} {s:.0%}" for c, s in m.share_by_country.items()),
        )
        for m in result.minerals
    ]
    _table(w, ("mineral", "quantity", "target", "coverage", "spend", "offers", "by country"), rows)
    for f in result.diagnostics:
        w(f"[{f.severity.value}] {f.message}\n")


def _table(w, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    w("\n" + "  ".join(h.ljust(n) for h, n in zip(header, widths)).rstrip() + "\n")
    w("  ".join("-" * n for n in widths) + "\n")
    for r in rows:
        w("  ".join(c.ljust(n) for c, n in zip(r, widths)).rstrip() + "\n")
    w("\n")


def run() -> None:
    """The ``stockpile`` console script: ``main``, then exit with its code.

    A solve that left a HiGHS run going past its limit (``solvers.left_running``: HiGHS
    polls no limit in parts of its root, and may run on for tens of seconds) would keep the process
    alive at exit until that run ends: the output is flushed and the process ends at once.
    """
    code = main()
    if left_running():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
