"""Settings defaults that depend on the machine: how many solver workers."""

from __future__ import annotations

import os

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
