"""The embedded database's first connection switches it to WAL even while another one writes."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from api.db import make_engine


def test_switch_to_wal_waits_for_a_writer_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "carerota.db"
    # A writer holds the file's reserved lock in the default (rollback) journal mode: SQLite
    # refuses the switch to WAL at once then, without calling the busy handler.
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (x INTEGER)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    done = threading.Timer(0.5, writer.execute, ("COMMIT",))
    done.start()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            rows = conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
    finally:
        done.join()
        engine.dispose()
        writer.close()
    assert mode == "wal"
    assert rows == 1  # it waited for the writer's row, not around it
