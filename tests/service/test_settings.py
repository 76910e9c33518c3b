"""Settings defaults that depend on the machine: how many solver workers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from service.settings import _cpu_count, cpu_quota


def _cgroup(tmp_path, **files: str):
    for name, text in files.items():
        path = tmp_path / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),  # cgroup v2, docker --cpus 1.5
        ({"cpu.max": "max 100000\n"}, None),  # cgroup v2, no quota
        ({"cpu__cpu.cfs_quota_us": "50000\n", "cpu__cpu.cfs_period_us": "100000\n"}, 0.5),  # cgroup v1
        ({"cpu__cpu.cfs_quota_us": "-1\n", "cpu__cpu.cfs_period_us": "100000\n"}, None),  # v1, no quota
        ({}, None),  # no cgroup files at all
        ({"cpu.max": "garbage\n"}, None),
    ],
)
def test_cpu_quota_reads_cgroup_v2_and_v1(tmp_path, files, quota):
    assert cpu_quota(_cgroup(tmp_path, **files)) == quota


def test_workers_default_follows_a_container_cpu_quota(tmp_path):
    cpus = len(os.sched_getaffinity(0))
    assert _cpu_count(_cgroup(tmp_path / "none")) == cpus
    # A quota of half a CPU still gets one worker; 1.5 CPUs get 2 (if this machine has 2).
    assert _cpu_count(_cgroup(tmp_path / "half", **{"cpu.max": "50000 100000"})) == 1
    assert _cpu_count(_cgroup(tmp_path / "one5", **{"cpu.max": "150000 100000"})) == min(cpus, 2)
    # A quota above the CPU set changes nothing.
    assert _cpu_count(_cgroup(tmp_path / "many", **{"cpu.max": "6400000 100000"})) == cpus


# -- the grace periods past a solve's time limit come in order --


def test_the_servers_grace_must_outlast_the_pools_overtime_and_the_engines_watchdog():
    from pydantic import ValidationError

    from service.pool import OVERTIME_AFTER_S
    from service.settings import Settings
    from solvers import OVERRUN_S

    assert OVERRUN_S < OVERTIME_AFTER_S  # as shipped
    assert Settings(solve_grace_s=OVERTIME_AFTER_S + 0.01).solve_grace_s == OVERTIME_AFTER_S + 0.01
    for grace in (OVERTIME_AFTER_S, OVERRUN_S, 0.01):
        with pytest.raises(ValidationError) as caught:
            Settings(solve_grace_s=grace)
        [error] = caught.value.errors()
        assert error["loc"] == ("solve_grace_s",)
        assert "must be longer than the pool's overtime" in error["msg"]


def test_a_misordered_configuration_fails_at_start_with_a_clear_message(monkeypatch):
    monkeypatch.setenv("STOCKPILE_SOLVE_GRACE_S", "0.5")
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2
    assert "solve_grace_s: must be longer than the pool's overtime (1 s)" in done.stderr
    assert "STOCKPILE_SOLVE_GRACE_S" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_watchdog_must_give_up_before_the_pool_stops_a_solve(monkeypatch):
    # The two constants are code, not settings; still checked with them, so a change that
    # misorders them fails every start rather than living on in a comment.
    from pydantic import ValidationError

    from service import pool
    from service.settings import Settings
    from solvers import OVERRUN_S

    monkeypatch.setattr(pool, "OVERTIME_AFTER_S", OVERRUN_S)
    with pytest.raises(ValidationError, match="overrun watchdog grace .* must be shorter than the pool's overtime"):
        Settings()
