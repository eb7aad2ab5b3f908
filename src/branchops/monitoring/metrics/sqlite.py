"""The embedded metric store: one SQLite file with raw samples and two rollups.

Tables are ``WITHOUT ROWID`` and keyed by (series, time), so a range read is one index
scan and a write is an append to the tail of each series' key range. Raw samples are kept
for ``raw_days``; 5-minute and 1-hour rollups (min, max, sum, count) for longer. A read
picks the finest resolution that still covers its range with a sensible number of points.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from branchops.monitoring.metrics.base import Point, Selector, Series, TimedSample

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    UNIQUE (name, labels)
);
CREATE TABLE IF NOT EXISTS series_label (
    key TEXT NOT NULL, value TEXT NOT NULL, series_id INTEGER NOT NULL,
    PRIMARY KEY (key, value, series_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS raw (
    series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS r5m (
    series_id INTEGER NOT NULL, ts INTEGER NOT NULL,
    low REAL NOT NULL, high REAL NOT NULL, total REAL NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS r1h (
    series_id INTEGER NOT NULL, ts INTEGER NOT NULL,
    low REAL NOT NULL, high REAL NOT NULL, total REAL NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS watermark (resolution TEXT PRIMARY KEY, ts INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class Retention:
    raw_s: int = 2 * 86400
    r5m_s: int = 35 * 86400
    r1h_s: int = 400 * 86400


# (resolution seconds, table, source table) in rollup order
ROLLUPS = ((300, "r5m", "raw"), (3600, "r1h", "r5m"))
# The SELECT that fills each rollup table from the one below it.
ROLLUP_SELECT = {
    "r5m": (
        "SELECT series_id, ts - ts % :r, MIN(value), MAX(value), SUM(value), COUNT(*) "
        # Infinities stay in raw samples but not in averages: +Inf and -Inf would sum to NaN.
        "FROM raw WHERE ts >= :since AND ts < :until AND value BETWEEN -1e308 AND 1e308 "
        "GROUP BY series_id, ts - ts % :r"
    ),
    "r1h": (
        "SELECT series_id, ts - ts % :r, MIN(low), MAX(high), SUM(total), SUM(count) "
        "FROM r5m WHERE ts >= :since AND ts < :until GROUP BY series_id, ts - ts % :r"
    ),
}
# Longest range each resolution answers (about 720-2000 points per series).
RAW_MAX_RANGE_S = 6 * 3600
R5M_MAX_RANGE_S = 7 * 86400


class SqliteMetricStore:
    def __init__(self, path: str | Path, retention: Retention | None = None) -> None:
        self.path = str(path)
        self.retention = retention or Retention()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.executescript(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;"
        )
        self._db.executescript(SCHEMA)
        self._ids: dict[tuple[str, str], int] = {}
        self.rejected = 0  # samples refused for not being numbers (NaN)

    # ---- writing --------------------------------------------------------------------------

    def write(self, samples: Sequence[TimedSample]) -> int:
        """Store the samples; NaN (SQLite stores it as NULL) is skipped and counted in
        ``rejected``. Infinities are kept in the raw samples, as Prometheus keeps them."""
        finite = [s for s in samples if not math.isnan(s.value)]
        self.rejected += len(samples) - len(finite)
        if not finite:
            return 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = [(self._series_id(s.name, s.labels), int(s.ts), s.value) for s in finite]
                self._db.executemany("INSERT OR REPLACE INTO raw VALUES (?, ?, ?)", rows)
                self._reopen_rollups(min(r[1] for r in rows))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return len(rows)

    def _reopen_rollups(self, earliest: int) -> None:
        """Late samples (an agent replaying an outage) pull the rollups' watermarks back, so
        that the next ``maintain`` redoes their buckets; kept in the file, because the web
        writes pushed samples and the engine rolls them up."""
        for resolution, table, _ in ROLLUPS:
            bucket = earliest - earliest % resolution
            self._db.execute(
                "UPDATE watermark SET ts = ? WHERE resolution = ? AND ts > ?",
                (bucket + resolution, table, bucket + resolution),
            )

    def _series_id(self, name: str, labels: tuple[tuple[str, str], ...]) -> int:
        key = (name, json.dumps(labels, separators=(",", ":"), ensure_ascii=False))
        found = self._ids.get(key)
        if found is not None:
            return found
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO series (name, labels) VALUES (?, ?)", key
        ).rowcount
        row = self._db.execute(
            "SELECT id FROM series WHERE name = ? AND labels = ?", key
        ).fetchone()
        series_id = int(row[0])
        if inserted:
            self._db.executemany(
                "INSERT OR IGNORE INTO series_label VALUES (?, ?, ?)",
                [(k, v, series_id) for k, v in labels],
            )
        self._ids[key] = series_id
        return series_id

    # ---- reading --------------------------------------------------------------------------

    def query_range(self, selector: Selector, start: float, end: float) -> list[Series]:
        span = end - start
        if span <= RAW_MAX_RANGE_S:
            table, resolution = "raw", 0
        elif span <= R5M_MAX_RANGE_S:
            table, resolution = "r5m", 300
        else:
            table, resolution = "r1h", 3600
        with self._lock:
            matches = self._matching_series(selector)
            result = []
            for series_id, labels in matches:
                points = self._points(table, series_id, int(start), int(end))
                result.append(Series(selector.name, labels, points, resolution))
        return result

    def _matching_series(self, selector: Selector) -> list[tuple[int, tuple[tuple[str, str], ...]]]:
        sql = "SELECT id, labels FROM series WHERE name = ?"
        args: list[str] = [selector.name]
        for key, value in sorted(selector.matchers.items()):
            sql += " AND id IN (SELECT series_id FROM series_label WHERE key = ? AND value = ?)"
            args += [key, value]
        rows = self._db.execute(sql + " ORDER BY labels", args).fetchall()
        return [
            (int(series_id), tuple((str(k), str(v)) for k, v in json.loads(raw_labels)))
            for series_id, raw_labels in rows
        ]

    def _points(self, table: str, series_id: int, start: int, end: int) -> tuple[Point, ...]:
        if table == "raw":
            rows = self._db.execute(
                "SELECT ts, value FROM raw WHERE series_id = ? AND ts BETWEEN ? AND ? ORDER BY ts",
                (series_id, start, end),
            ).fetchall()
            return tuple(Point(float(ts), float(v)) for ts, v in rows)
        rows = self._db.execute(
            f"SELECT ts, low, high, total, count FROM {table} "  # noqa: S608 - table is ours
            "WHERE series_id = ? AND ts BETWEEN ? AND ? ORDER BY ts",
            (series_id, start, end),
        ).fetchall()
        return tuple(
            Point(float(ts), total / count, low, high) for ts, low, high, total, count in rows
        )

    # ---- upkeep ---------------------------------------------------------------------------

    def maintain(self, now: float) -> None:
        """Roll finished buckets up, then drop samples past retention."""
        with self._lock:
            for resolution, table, source in ROLLUPS:
                self._roll_up(resolution, table, source, int(now))
            cutoff = int(now)
            for table, keep in (
                ("raw", self.retention.raw_s),
                ("r5m", self.retention.r5m_s),
                ("r1h", self.retention.r1h_s),
            ):
                self._db.execute(f"DELETE FROM {table} WHERE ts < ?", (cutoff - keep,))  # noqa: S608

    def _roll_up(self, resolution: int, table: str, source: str, now: int) -> None:
        done_until = now - now % resolution  # buckets before this one are complete
        row = self._db.execute("SELECT ts FROM watermark WHERE resolution = ?", (table,)).fetchone()
        # Redo the last finished bucket too: late samples (a slow poll) may have landed in it.
        since = (int(row[0]) - resolution) if row else 0
        if since >= done_until:
            return
        select = ROLLUP_SELECT[table]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                f"INSERT OR REPLACE INTO {table} {select}",
                {"r": resolution, "since": since, "until": done_until},
            )
            self._db.execute("INSERT OR REPLACE INTO watermark VALUES (?, ?)", (table, done_until))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()
