"""The ``stockpile`` commands of the what-if analyses: compare, frontier, policy-costs.

stockpile compare FILE|--example NAME [--variants VARIANTS.json] [-o OUT.json|.csv|.xlsx] [--json]
stockpile frontier FILE|--example NAME (--from A --to B --points N | --budgets A,B,...) [-o OUT.json|.csv|.svg|.png]
stockpile policy-costs FILE|--example NAME [-o OUT.json|.csv] [--json]

FILE is a request (JSON, ``-`` for standard input, or a workbook ``.xlsx``), or the
analysis's own request as the HTTP API takes it (``{"request": ..., "variants": [...]}``,
``{"request": ..., "from": ..., "to": ..., "points": ...}``); the options given on the
command line take precedence over the file's. A workbook's ``Scenarios`` sheet gives
the variants of ``compare``. The solves run in this process, or on the Dask cluster
at ``--scheduler``. Bad input is reported like ``stockpile solve`` reports it (each
problem with its path, exit code 2).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel, ValidationError

from models import problems_from_validation_error
from models.analyses import (
    ComparisonRequest,
    ComparisonResult,
    FrontierRequest,
    FrontierResult,
    PolicyCostsRequest,
    PolicyCostsResult,
)
from service import examples
from service.errors import StockpileError
from solvers import SolverError

EXIT_OK, EXIT_INVALID, EXIT_FAILED = 0, 2, 4
COMMANDS = ("compare", "frontier", "policy-costs")
OUTPUTS: dict[str, tuple[str, ...]] = {
    "compare": (".json", ".csv", ".xlsx"),
    "frontier": (".json", ".csv", ".svg", ".png"),
    "policy-costs": (".json", ".csv"),
}


class BadInput(Exception):
    """Input the command cannot use; ``lines`` say why (printed to standard error)."""

    def __init__(self, *lines: str) -> None:
        super().__init__(lines[0] if lines else "")
        self.lines = lines


def add_parsers(sub: Any) -> None:
    """Add the three commands to the ``stockpile`` parser's subcommands."""

    def common(p: argparse.ArgumentParser, outputs: str) -> None:
        p.add_argument(
            "file",
            nargs="?",
            help="a request (JSON file, - for standard input, or a workbook .xlsx), or the analysis's request JSON",
        )
        p.add_argument("--example", choices=examples.names(), help="use a built-in example as the request")
        p.add_argument("-o", "--output", help=f"also write the answer: {outputs}")
        p.add_argument("--json", action="store_true", help="print the answer as JSON instead of tables")
        p.add_argument("--scheduler", metavar="ADDRESS", help="solve on the Dask cluster at ADDRESS (tcp://host:8786)")

    compare = sub.add_parser("compare", help="solve the request and variants of it, side by side")
    common(compare, "JSON (.json), one row per scenario and offer (.csv) or the comparison workbook (.xlsx)")
    compare.add_argument(
        "--variants",
        metavar="VARIANTS.json",
        help='the variants: [{"name": "no-china", "changes": [{"op": "exclude_countries", "countries": ["CN"]}]}]',
    )

    frontier = sub.add_parser("frontier", help="the most coverage each budget buys (max_coverage)")
    common(frontier, "JSON (.json), one row per budget (.csv) or the chart (.svg, .png)")
    frontier.add_argument("--from", dest="from_", type=float, metavar="A", help="the smallest budget")
    frontier.add_argument("--to", type=float, metavar="B", help="the largest budget")
    frontier.add_argument("--points", type=int, metavar="N", help="budgets from A to B, evenly spaced (2 to 101)")
    frontier.add_argument("--budgets", metavar="A,B,...", help="the budgets, separated by commas")

    costs = sub.add_parser("policy-costs", help="what each rule in force costs the request")
    common(costs, "JSON (.json) or one row per rule (.csv)")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run one of ``COMMANDS``; the exit code."""
    if args.output and not args.output.lower().endswith(OUTPUTS[args.command]):
        parser.error(f"-o {args.output}: give a file name ending in " + ", ".join(OUTPUTS[args.command]))
    if not args.example and not args.file:
        parser.error("give a request FILE (or -) or --example NAME")
    try:
        analysis = _analysis_request(args)
    except BadInput as exc:
        for k, line in enumerate(exc.lines):
            print(("stockpile: " if k == 0 else "  ") + line, file=sys.stderr)
        return EXIT_INVALID
    executor = _executor(args.scheduler)
    try:
        result = _solve(args.command, analysis, executor)
    except SolverError as exc:
        print(f"stockpile: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:  # a scheduler that cannot be reached
        print(f"stockpile: cannot reach the scheduler {args.scheduler}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        close = getattr(executor, "close", None)
        if close is not None:
            close()
    written = EXIT_OK
    if args.output:
        written = _write(args.output, lambda: write_output(args.output, analysis, result))
    try:
        if args.json:
            print(result.model_dump_json(indent=2))
        else:
            PRINTERS[args.command](result, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # `stockpile frontier ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return written


def _executor(address: str | None) -> Any:
    from analyses import DaskExecutor, LocalExecutor

    return LocalExecutor() if address is None else DaskExecutor(address)


def _solve(command: str, analysis: Any, executor: Any) -> Any:
    from analyses import compare, frontier, policy_costs

    run_analysis = {"compare": compare, "frontier": frontier, "policy-costs": policy_costs}[command]
    return run_analysis(analysis, executor)


# -- reading the input ------------------------------------------------------------------------


def _problems(exc: ValidationError, title: str) -> BadInput:
    return BadInput(title, *(f"{p.path}: {p.message}" for p in problems_from_validation_error(exc)))


def _json_file(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except UnicodeDecodeError:
        raise BadInput(f"{path} is not text: give a JSON file or an .xlsx workbook") from None
    except (OSError, ValueError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from None


def _base(args: argparse.Namespace) -> tuple[Any, dict[str, Any], list[Any] | None]:
    """(the base request, raw or read, the rest of an analysis request file, a workbook's variants)."""
    from service.spreadsheet import commands as sheets

    if args.example:
        return examples.catalogue()[args.example]["request"], {}, None
    if sheets.is_workbook(args.file):
        _check_settings()
        try:
            book = sheets.read_book(args.file)
        except StockpileError as exc:
            raise BadInput(
                f"{args.file}: {exc.detail}", *(f"{p.path}: {p.message}" for p in getattr(exc, "problems", []))
            ) from None
        except OSError as exc:
            raise BadInput(f"cannot read {args.file}: {exc}") from None
        return book.request, {}, book.variants
    raw = _json_file(args.file)
    if isinstance(raw, dict) and "request" in raw:
        return raw["request"], {k: v for k, v in raw.items() if k != "request"}, None
    return raw, {}, None


def _check_settings() -> None:
    from service.settings import Settings

    try:
        Settings()
    except ValidationError as exc:
        problems = problems_from_validation_error(exc)
        raise BadInput(
            "invalid settings:", *(f"{p.path}: {p.message} (STOCKPILE_{p.path.upper()})" for p in problems)
        ) from None


def _analysis_request(args: argparse.Namespace) -> BaseModel:
    request, rest, book_variants = _base(args)
    if args.command == "compare":
        variants: Any
        if args.variants:
            variants = _json_file(args.variants)
            if isinstance(variants, dict) and "variants" in variants:
                variants = variants["variants"]
        elif "variants" in rest:
            variants = rest["variants"]
        elif book_variants:
            # the workbook's Scenarios sheet, already checked cell by cell by the reader
            return ComparisonRequest.model_construct(request=request, variants=book_variants)
        else:
            raise BadInput("give the variants: --variants VARIANTS.json, or a file with request and variants")
        body: dict[str, Any] = {"request": request, "variants": variants}
        model: type[BaseModel] = ComparisonRequest
    elif args.command == "frontier":
        given = {"from": args.from_, "to": args.to, "points": args.points}
        form = {k: v for k, v in given.items() if v is not None}
        if args.budgets is not None:
            try:
                form["budgets"] = [float(b) for b in args.budgets.replace(";", ",").split(",") if b.strip()]
            except ValueError:
                raise BadInput(f"--budgets {args.budgets}: give numbers separated by commas") from None
        if not form:
            form = {k: v for k, v in rest.items() if k in ("budgets", "from", "to", "points")}
        body, model = {"request": request, **form}, FrontierRequest
    else:
        body, model = {"request": request}, PolicyCostsRequest
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise _problems(exc, "the request is invalid:") from None


# -- writing ----------------------------------------------------------------------------------


def _write(path: str, write: Callable[[], None]) -> int:
    try:
        write()
    except OSError as exc:
        print(f"stockpile: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def write_output(path: str, analysis: Any, result: Any) -> None:
    """The answer as JSON, CSV, the comparison workbook or the frontier chart, by ``path``'s ending."""
    from service.spreadsheet import csvio

    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        Path(path).write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
    elif suffix == ".csv":
        table = {
            ComparisonResult: csvio.comparison_csv,
            FrontierResult: csvio.frontier_csv,
            PolicyCostsResult: csvio.policy_costs_csv,
        }[type(result)]
        Path(path).write_text(table(result), encoding="utf-8", newline="")
    elif suffix == ".xlsx":
        from service.spreadsheet.comparison import comparison_workbook

        Path(path).write_bytes(comparison_workbook(analysis, result))
    else:
        from service.charts import frontier_chart

        Path(path).write_bytes(frontier_chart(result, "svg" if suffix == ".svg" else "png"))


# -- tables on standard output ----------------------------------------------------------------


def _table(out: TextIO, header: Sequence[str], rows: list[Sequence[str]]) -> None:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    out.write("  ".join(h.ljust(n) for h, n in zip(header, widths, strict=True)).rstrip() + "\n")
    out.write("  ".join("-" * n for n in widths) + "\n")
    out.writelines("  ".join(c.ljust(n) for c, n in zip(r, widths, strict=True)).rstrip() + "\n" for r in rows)
    out.write("\n")


def _pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.2%}" if signed else f"{value:.2%}"


def _money(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    if signed:
        return "0" if abs(value) < 0.5 else f"{value:+,.0f}"
    return f"{value:,.0f}"


def print_comparison(result: ComparisonResult, out: TextIO) -> None:
    from service.spreadsheet.comparison import describe_changes

    rows = []
    for s in result.scenarios:
        d = s.delta
        rows.append(
            (
                s.name,
                s.result.status.value,
                _pct(s.result.coverage_score),
                _pct(d.coverage_score if d else None, signed=True),
                _money(s.result.total_spend),
                _money(d.total_spend if d else None, signed=True),
                _money(s.premium_over_market),
                describe_changes(s.changes),
            )
        )
    header = ("scenario", "status", "coverage", "vs base", "spend", "vs base", "premium", "changes")
    _table(out, header, rows)
    minerals = [m.id for m in result.scenarios[0].result.minerals] if result.scenarios else []
    coverage = [{m.id: m.coverage for m in s.result.minerals} for s in result.scenarios]
    _table(
        out,
        ("mineral", *(s.name for s in result.scenarios)),
        [(m, *(_pct(c.get(m)) for c in coverage)) for m in minerals],
    )
    for s in result.scenarios:
        out.writelines(f"[{s.name}] offer {u.supplier_id} unavailable: {u.reason}\n" for u in s.unavailable_offers)


def print_frontier(result: FrontierResult, out: TextIO) -> None:
    knees = {b: k for k, b in enumerate(result.knees, start=1)}
    minerals = [m.id for m in result.points[0].minerals] if result.points else []
    rows = []
    for p in result.points:
        coverage = {m.id: m.coverage for m in p.minerals}
        rows.append(
            (
                f"{p.budget / 1e6:,.1f}",
                p.status.value,
                _pct(p.coverage_score),
                f"{p.total_spend / 1e6:,.1f}",
                f"knee {knees[p.budget]}" if p.budget in knees else "",
                *(_pct(coverage.get(m)) for m in minerals),
            )
        )
    _table(out, ("budget $M", "status", "coverage", "spend $M", "", *minerals), rows)


def print_policy_costs(result: PolicyCostsResult, out: TextIO) -> None:
    base = result.base
    out.write(
        f"base: {base.status.value}   coverage score: {_pct(base.coverage_score)}   spend: {_money(base.total_spend)}\n"
    )
    if result.budget_marginal_value is not None:
        out.write(f"an extra $1M of budget buys {result.budget_marginal_value:.4%} of coverage score\n")
    out.write("\n")
    rows = [
        (
            r.rule,
            _pct(r.coverage_gain, signed=True),
            _money(r.spend_saving, signed=True),
            r.status.value,
            r.description,
        )
        for r in result.rules
    ]
    _table(out, ("rule", "coverage gained", "spend saved", "status", "lifting"), rows)


PRINTERS: dict[str, Callable[[Any, TextIO], None]] = {
    "compare": print_comparison,
    "frontier": print_frontier,
    "policy-costs": print_policy_costs,
}
