"""The database layer on SQLite and PostgreSQL: migrations, claims and leases, scenario versions."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import inspect

from service.storage import Database
from service.storage import jobs as J
from service.storage import scenarios as S


@pytest.fixture
def db(database_url: str):
    database = Database(database_url)
    database.upgrade()
    yield database
    database.close()


def _job(job_id: str, now: float = 100.0) -> dict:
    return {
        "id": job_id,
        "kind": "allocation",
        "status": "queued",
        "input": "{}",
        "input_hash": "h",
        "progress": 0.0,
        "attempts": 0,
        "cancel_requested": False,
        "created_at": now,
    }


def test_migrations_create_every_table_and_run_twice(db: Database) -> None:
    db.upgrade()  # nothing left to do: no error
    names = set(inspect(db.engine).get_table_names())
    assert {"jobs", "webhook_attempts", "scenarios", "scenario_versions", "scenario_tokens", "alembic_version"} <= names


def test_a_claimed_job_is_not_claimed_again_until_its_lease_expires(db: Database) -> None:
    db.call(J.insert_job, _job("a"))
    first = db.call(J.claim, "r1", 100.0, 10.0, 3, db.postgres)
    assert first["id"] == "a" and first["attempts"] == 1 and first["lease_owner"] == "r1"
    assert db.call(J.claim, "r2", 105.0, 10.0, 3, db.postgres) is None
    again = db.call(J.claim, "r2", 111.0, 10.0, 3, db.postgres)  # r1's lease ran out
    assert again["lease_owner"] == "r2" and again["attempts"] == 2
    # r1 comes back: its outcome is dropped, r2's stands
    assert not db.call(J.finish, "a", "r1", "succeeded", 112.0, '{"x": 1}')
    assert db.call(J.finish, "a", "r2", "succeeded", 113.0, '{"x": 2}')
    assert db.call(J.get_job, "a")["result"] == '{"x": 2}'


def test_a_job_whose_runners_died_max_attempts_times_fails(db: Database) -> None:
    db.call(J.insert_job, _job("a"))
    for n in range(3):
        assert db.call(J.claim, f"r{n}", 100.0 + 20 * n, 10.0, 3, db.postgres)["attempts"] == n + 1
    assert db.call(J.claim, "r9", 200.0, 10.0, 3, db.postgres) is None
    row = db.call(J.get_job, "a")
    assert row["status"] == "failed" and "job_abandoned" in row["error"] and row["attempts"] == 3


def test_concurrent_claims_take_each_job_once(db: Database) -> None:
    for n in range(20):
        db.call(J.insert_job, _job(f"j{n}", 100.0 + n))
    taken: list[str] = []
    lock = threading.Lock()

    def runner(owner: str) -> None:
        while (row := db.call(J.claim, owner, 100.0, 60.0, 3, db.postgres)) is not None or _queued(db):
            if row is not None:
                with lock:
                    taken.append(row["id"])

    threads = [threading.Thread(target=runner, args=(f"r{n}",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == sorted(f"j{n}" for n in range(20))


def _queued(db: Database) -> bool:
    return bool(db.call(J.list_jobs, "queued", None, 1, None))


def test_cancelling_a_queued_job_ends_it_and_a_running_one_is_flagged(db: Database) -> None:
    db.call(J.insert_job, _job("q"))
    db.call(J.insert_job, _job("r", 101.0))
    assert db.call(J.request_cancel, "q", 102.0, False)["status"] == "cancelled"
    db.call(J.claim, "me", 103.0, 60.0, 3, db.postgres)
    row = db.call(J.request_cancel, "r", 104.0, False)
    assert row["status"] == "running" and row["cancel_requested"]
    assert db.call(J.renew, "r", "me", 200.0) == (True, True)


def test_listing_is_newest_first_and_pages_without_gaps(db: Database) -> None:
    for n in range(7):
        db.call(J.insert_job, _job(f"j{n}", 100.0 + n))
    seen, cursor = [], None
    while page := db.call(J.list_jobs, None, None, 3, cursor):
        seen += [r["id"] for r in page]
        cursor = page[-1]["seq"]
    assert seen == [f"j{n}" for n in reversed(range(7))]


def test_retention_deletes_only_old_finished_jobs(db: Database) -> None:
    for name in ("old", "new", "open"):
        db.call(J.insert_job, _job(name))
    for name, at in (("old", 10.0), ("new", 1000.0)):
        db.call(J.claim, "me", 1.0, 1e9, 3, db.postgres)
        db.call(J.finish, name, "me", "succeeded", at, "{}")
    db.call(J.record_webhook_attempt, "old", 1, 11.0, 200, None)
    assert db.call(J.purge, 500.0) == 1
    assert db.call(J.get_job, "old") is None and db.call(J.get_job, "new") and db.call(J.get_job, "open")


def test_scenario_versions_and_stale_writes(db: Database) -> None:
    assert db.call(S.save, "s", '{"v": 1}', 0, 1.0) == 1
    assert db.call(S.save, "s", '{"v": 2}', 1, 2.0) == 2
    with pytest.raises(S.Stale) as stale:
        db.call(S.save, "s", '{"v": 3}', 1, 3.0)
    assert stale.value.current == 2
    with pytest.raises(S.Stale):
        db.call(S.save, "s", '{"v": 9}', 0, 3.0)  # "create" when it exists
    assert db.call(S.read, "s")["document"] == '{"v": 2}'
    assert db.call(S.read, "s", 1)["document"] == '{"v": 1}'
    assert db.call(S.read, "s", 3) is None
    db.call(S.add_token, "s", "t1", "secret-token", 4.0)
    assert db.call(S.token_valid, "s", "secret-token") and not db.call(S.token_valid, "other", "secret-token")
    assert db.call(S.revoke, "s", "t1", 5.0)
    assert not db.call(S.token_valid, "s", "secret-token")
    assert db.call(S.remove, "s", 2) and db.call(S.read, "s") is None


def test_concurrent_conditional_saves_lose_no_update(db: Database) -> None:
    db.call(S.save, "s", "0", None, 1.0)
    wins: list[int] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        for _ in range(5):
            while True:
                current = db.call(S.current_version, "s")
                try:
                    version = db.call(S.save, "s", str(n), current, 2.0)
                except S.Stale:
                    continue
                with lock:
                    wins.append(version)
                break

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == list(range(2, 22))  # every save got its own version: none overwritten


def test_stockpile_db_upgrade_migrates_the_configured_database(tmp_path, monkeypatch, capsys) -> None:
    from service.cli import main

    monkeypatch.setenv("STOCKPILE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("STOCKPILE_DATABASE_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out
    names = inspect(Database(f"sqlite:///{tmp_path / 'data' / 'stockpile.db'}").engine).get_table_names()
    assert "jobs" in names and "scenarios" in names
    monkeypatch.setenv("STOCKPILE_DATABASE_URL", "mysql://nope")
    assert main(["db", "upgrade"]) == 2
    assert "database_url" in capsys.readouterr().err
