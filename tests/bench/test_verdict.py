"""bench.verdict: the speed targets judged over seeds (a benchmark tool, tested on made-up runs)."""

from __future__ import annotations

from bench.verdict import merge_by_seed, verdict


def _contender(seconds: float, status: str = "optimal", overhead: float = 0.0) -> dict:
    return {
        "median_s": seconds,
        "median_overhead_s": overhead,
        "status": status,
        "statuses": [status],
        "score": 1.0,
        "spend": 100.0,
        "violations": [],
        "peak_rss_mb": 200.0,
    }


def _run(seed: int, http: float, highs: float, pulp: float, pulp_status: str = "optimal") -> dict:
    entry = {
        "case": "10x50-min_cost",
        "offers": 500,
        "objective": "min_cost",
        "mip_gap": 1e-4,
        "time_limit_s": 30.0,
        "contenders": {
            "http": _contender(http),
            "engine": _contender(http, overhead=0.05 * http),
            "highs": _contender(highs),
            "pulp": _contender(pulp, pulp_status),
        },
    }
    return {"seed": seed, "command": "python -m bench.run", "results": [entry]}


def _row(lines: list[str], target: str) -> list[str]:
    (row,) = [line for line in lines if target in line]
    return [cell.strip() for cell in row.strip("|").split("|")]


def test_a_seed_twice_as_fast_and_one_twice_as_slow_meet_a_ratio_together():
    lines = verdict([_run(1, 2.0, 1.0, 8.0), _run(2, 0.5, 1.0, 2.0)])
    assert _row(lines, "HTTP / highspy")[2:] == ["2.00x", "0.50x", "1.00x", "met"]
    assert _row(lines, "PuLP / HTTP")[2:] == ["4.00x", "4.00x", "4.00x", "met"]
    assert _row(lines, "overhead, %")[-2:] == ["5.0%", "met"]


def test_a_ratio_missed_on_every_seed_is_not_met():
    lines = verdict([_run(1, 1.5, 1.0, 2.0), _run(2, 1.5, 1.0, 2.0)])
    assert _row(lines, "HTTP / highspy")[-2:] == ["1.50x", "NOT met"]
    assert _row(lines, "PuLP / HTTP")[-2:] == ["1.33x", "NOT met"]


def test_cbc_without_an_allocation_at_the_limit_is_beaten_and_both_at_the_limit_is_left_out():
    beaten = _run(1, 1.0, 1.0, 30.0, pulp_status="no_solution")
    both = _run(2, 30.0, 30.0, 30.0, pulp_status="feasible")
    both["results"][0]["contenders"]["http"]["status"] = "feasible"
    assert _row(verdict([beaten, both]), "PuLP / HTTP")[2:] == ["no CBC answer", "-", "no CBC answer", "met"]


def test_files_of_one_seed_are_merged_into_one_column():
    small, large = _run(1, 1.0, 1.0, 4.0), _run(1, 2.0, 4.0, 8.0)
    large["results"][0].update(case="40x250-min_cost", offers=10_000)
    lines = verdict(merge_by_seed([large, small, _run(2, 1.0, 1.0, 4.0)]))
    assert lines[0].count("seed 1") == 1 and lines[0].count("seed 2") == 1
    assert _row(lines, "10x50-min_cost | HTTP / highspy")[2:4] == ["1.00x", "1.00x"]
    assert _row(lines, "40x250-min_cost | HTTP / highspy")[2:4] == ["0.50x", "-"]
    assert lines.index(next(x for x in lines if "10x50" in x)) < lines.index(next(x for x in lines if "40x250" in x))


def test_contenders_measured_again_replace_only_their_own_rows_and_keep_their_commit():
    first, again = _run(1, 2.0, 1.0, 8.0), _run(1, 1.0, 1.0, 8.0)
    del again["results"][0]["contenders"]["highs"], again["results"][0]["contenders"]["pulp"]
    again.update(command="python -m bench.run --contenders http,engine", revision="commit abc")
    lines = verdict(merge_by_seed([first, again]))
    assert _row(lines, "HTTP / highspy")[2:4] == ["1.00x", "1.00x"]  # the new HTTP row, the old baseline
    assert _row(lines, "PuLP / HTTP")[2] == "8.00x"
    assert "- 10x50-min_cost: http, engine at abc; highs, pulp at ?" in lines


def test_merged_runs_written_to_a_folder_judge_as_the_runs_they_came_from(tmp_path):
    import json

    from bench.verdict import main

    first, again = _run(1, 2.0, 1.0, 8.0), _run(1, 1.0, 1.0, 8.0)
    del again["results"][0]["contenders"]["highs"]
    first.update(revision="commit old", when="1"), again.update(revision="commit new", when="2")
    runs = tmp_path / "runs"
    runs.mkdir()
    for name, run in (("a.json", first), ("b.json", again), ("c.json", _run(2, 1.0, 2.0, 4.0))):
        (runs / name).write_text(json.dumps(run))
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "stale.json").write_text("{}")
    assert main([*sorted(map(str, runs.glob("*.json"))), "--merge", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["seed1.json", "seed2.json"]
    merged = [json.loads(p.read_text()) for p in sorted(folder.iterdir())]
    assert verdict(merge_by_seed(merged)) == verdict(merge_by_seed([first, again, _run(2, 1.0, 2.0, 4.0)]))
    contenders = merged[0]["results"][0]["contenders"]
    assert {name: c["revision"] for name, c in contenders.items()} == {
        "http": "commit new",
        "engine": "commit new",
        "highs": "commit old",
        "pulp": "commit new",
    }


def test_cbc_without_an_allocation_is_beaten_even_when_stockpile_also_ran_to_the_limit():
    both = _run(1, 30.0, 30.0, 30.0, pulp_status="no_solution")
    both["results"][0]["contenders"]["http"]["status"] = "feasible"
    assert _row(verdict([both]), "PuLP / HTTP")[2:] == ["no CBC answer", "no CBC answer", "met"]


def test_a_case_measured_again_keeps_its_place_in_the_table():
    first = _run(1, 1.0, 1.0, 4.0)
    entry = first["results"][0]
    first["results"] += [{**entry, "case": "10x50-a"}, {**entry, "case": "10x50-b"}]
    again = _run(1, 1.0, 1.0, 4.0)
    again["results"] = [{**entry, "case": "10x50-b", "contenders": {"engine": _contender(0.5)}}]  # b alone
    cases = [e["case"] for e in merge_by_seed([first, again])[0]["results"]]
    assert cases == ["10x50-min_cost", "10x50-a", "10x50-b"]


def test_a_baseline_answer_that_breaks_the_request_is_flagged_not_compared_with():
    from bench.run import agreement

    run = _run(7, 1.0, 1.0, 4.0)
    entry = run["results"][0]
    entry["contenders"]["highs"].update(spend=105.0, violations=["request: total spend exceeds the budget"])
    assert agreement(entry) == {
        "http": "ref VIOLATES",
        "engine": "ref VIOLATES",
        "highs": "VIOLATES",
        "pulp": "ref VIOLATES",
    }
    assert any("10x50-min_cost seed 7" in line for line in verdict([run]))


def test_cases_measured_alike_share_one_line_of_where_they_were_measured():
    first, second = _run(1, 2.0, 1.0, 8.0), _run(1, 2.0, 1.0, 8.0)
    other = second["results"][0]
    first["results"].append({**other, "case": "5x20-min_cost"})
    lines = verdict(merge_by_seed([first]))
    assert "- 10x50-min_cost, 5x20-min_cost: http, engine, highs, pulp at ?" in lines
