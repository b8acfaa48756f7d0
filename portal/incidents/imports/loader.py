"""Loading checked rows: a staging table per batch, then INSERT ... SELECT into the big
table inside one transaction.

Rows go first into `import_stage_<batch id>` (UNLOGGED on PostgreSQL, filled with
binary COPY; plain inserts on SQLite) in chunks that commit as they go, so reading a
large file holds no transaction open on the reader's connection and the batch's
progress stays visible. Publishing moves them into the big table, a range of lines at
a time, inside one transaction: the publisher's (see services), which also rebuilds
the exposures and completes the batch. A worker killed at any point leaves the live
tables as they were; the staging table is thrown away and refilled when the batch
runs again.
"""

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils.translation import gettext_noop
from psycopg import adapt, postgres, pq

from portal.accounts.models import Organization
from portal.incidents.exposures.services import quarter_hour_sql
from portal.incidents.imports.errors import ImportRefusedError
from portal.incidents.models import ImportBatch, Incident, MessageLogRecord
from portal.incidents.reasons import Reason

FLUSH_ROWS = 20_000
# Large enough to sort a big batch's message ids in memory: PostgreSQL's default
# (4 MB) sends a million-row sort to disk.
PUBLISH_WORK_MEM = "256MB"
# A publish of this many rows has the log table's statistics refreshed before the
# exposures are rebuilt from it, inside the same transaction (the new rows are not
# committed, so autovacuum cannot have analyzed them, and without statistics the
# planner guesses badly). Not when the staged totals serve every account.
ANALYZE_AFTER_ROWS = 10_000

STAGE_COLUMNS = ("line", *MessageLogRecord.LOADED_COLUMNS)
_STAGE_TYPES = (
    "int8",
    "int8",
    "text",
    "timestamptz",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "int4",
    "jsonb",
)
# The big table's columns the staging table fills, in STAGE_COLUMNS order after line.
_LOG_COLUMNS = STAGE_COLUMNS[1:]


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def stage_table(batch: ImportBatch) -> str:
    return f"import_stage_{int(batch.pk)}"


def stage_create(batch: ImportBatch, *, by_line: bool = False) -> None:
    """A fresh, empty staging table for the batch (a leftover from a killed run is
    dropped first); `by_line` adds an index for publishing it a range at a time."""
    postgres = connection.vendor == "postgresql"
    table = _q(stage_table(batch))
    columns = ", ".join(
        f"{_q(name)} {kind}"
        for name, kind in (
            ("line", "bigint NOT NULL"),
            ("organization_id", "bigint NOT NULL"),
            ("provider_message_id", "text NOT NULL"),
            ("sent_at", "timestamptz NOT NULL" if postgres else "text NOT NULL"),
            ("phone", "text NOT NULL"),
            ("carrier", "text NOT NULL"),
            ("country", "text NOT NULL"),
            ("region", "text NOT NULL"),
            ("region_code", "text NOT NULL"),
            ("message_type", "text NOT NULL"),
            ("context", "text NOT NULL"),
            ("credits", "integer"),
            # JSON, parsed as the reader's COPY stages it: its connection has a core
            # to spare, while the publisher's insert is the import's slowest step.
            ("extra", "jsonb NOT NULL" if postgres else "text NOT NULL"),
        )
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        # UNLOGGED: no WAL for rows that are thrown away after the import anyway.
        cursor.execute(f"CREATE {'UNLOGGED ' if postgres else ''}TABLE {table} ({columns})")
        if by_line:
            cursor.execute(f"CREATE INDEX ON {table} (line)")


def stage_drop(batch: ImportBatch) -> None:
    with connection.cursor() as cursor:
        for table in (stage_table(batch), *_totals_tables(batch)):
            cursor.execute(f"DROP TABLE IF EXISTS {_q(table)}")


def _totals_tables(batch: ImportBatch) -> tuple[str, str]:
    return f"{stage_table(batch)}_phones", f"{stage_table(batch)}_quarters"


@dataclass(frozen=True)
class StagedTotals:
    """The staged rows summed as the exposures and the message rollup need them, once
    each message id is kept on its earliest line (as publishing keeps it):
    `phones` holds one row per (account, phone) in an exposure's shape, `quarters`
    one per (account, UTC quarter-hour, type), and `messages` is how many rows each
    account has in all.

    They are what publishing inserts exactly when it inserted `messages[account]` rows
    for the account: none of its message ids was in the incident already.
    """

    phones: str
    quarters: str
    messages: dict[int, int]


def stage_totals(batch: ImportBatch) -> StagedTotals:
    """Sum the staged rows (PostgreSQL), on the reader's connection once it has staged
    them all, while the publisher's connection still inserts the last ranges: work
    that the exposure rebuild would otherwise do after them, on the publisher's."""
    stage = _q(stage_table(batch))
    phones, quarters = _totals_tables(batch)
    sms = MessageLogRecord.MessageType.SMS.value
    voice = MessageLogRecord.MessageType.VOICE.value
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{PUBLISH_WORK_MEM}'")
        cursor.execute("SET LOCAL jit = off")
        # The staging table has no statistics: a nested loop joining the phones' totals
        # to their rows on a guess of a few hundred would cost millions of probes.
        cursor.execute("SET LOCAL enable_nestloop = off")
        for table in (phones, quarters):
            cursor.execute(f"DROP TABLE IF EXISTS {_q(table)}")
        cursor.execute(
            f"CREATE UNLOGGED TABLE {_q(phones)} (organization_id bigint NOT NULL,"
            " phone text NOT NULL, sms_count bigint NOT NULL, voice_count bigint NOT NULL,"
            " first_seen_at timestamptz NOT NULL, last_seen_at timestamptz NOT NULL,"
            " carrier text NOT NULL, country text NOT NULL, region text NOT NULL,"
            " region_code text NOT NULL)"
        )
        cursor.execute(
            f"CREATE UNLOGGED TABLE {_q(quarters)} (organization_id bigint NOT NULL,"
            " quarter_hour timestamptz NOT NULL, message_type text NOT NULL,"
            " messages bigint NOT NULL)"
        )
        # A message id is kept on its earliest line (as publishing keeps it). The
        # latest row of a phone, whose carrier, country and region the exposure shows,
        # is the one sent last, and of two sent at once the one with the greater
        # message id: the rebuild from the log table breaks the tie the same way.
        # (Summed by hash, then the latest rows found by a join on the last time: a
        # window over rows sorted by phone and time cost twice as much. Message ids
        # sorted byte by byte: the same groups as in the database's collation, a
        # sixth cheaper.)
        cursor.execute(
            f"""
            WITH kept AS MATERIALIZED (
                SELECT DISTINCT ON (stage.provider_message_id COLLATE "C")
                    stage.organization_id, stage.provider_message_id, stage.sent_at,
                    stage.phone, stage.carrier, stage.country, stage.region,
                    stage.region_code, stage.message_type
                FROM {stage} AS stage
                ORDER BY stage.provider_message_id COLLATE "C", stage.line
            ), quarters AS (
                INSERT INTO {_q(quarters)}
                SELECT kept.organization_id, {quarter_hour_sql("kept.sent_at")},
                    kept.message_type, COUNT(*)
                FROM kept GROUP BY 1, 2, 3
            ), totals AS (
                SELECT kept.organization_id, kept.phone,
                    COUNT(*) FILTER (WHERE kept.message_type = %s) AS sms_count,
                    COUNT(*) FILTER (WHERE kept.message_type = %s) AS voice_count,
                    MIN(kept.sent_at) AS first_seen_at, MAX(kept.sent_at) AS last_seen_at
                FROM kept GROUP BY kept.organization_id, kept.phone
            )
            INSERT INTO {_q(phones)}
            SELECT DISTINCT ON (totals.organization_id, totals.phone) totals.*,
                latest.carrier, latest.country, latest.region, latest.region_code
            FROM totals JOIN kept AS latest
                ON latest.organization_id = totals.organization_id
                AND latest.phone = totals.phone AND latest.sent_at = totals.last_seen_at
            ORDER BY totals.organization_id, totals.phone,
                latest.provider_message_id COLLATE "C" DESC
            """,  # noqa: S608
            [sms, voice],
        )
        cursor.execute(
            f"SELECT organization_id, SUM(sms_count + voice_count) FROM {_q(phones)}"  # noqa: S608
            " GROUP BY organization_id"
        )
        messages = {organization_id: int(count) for organization_id, count in cursor.fetchall()}
    return StagedTotals(phones=phones, quarters=quarters, messages=messages)


class _JsonTextDumper(adapt.Dumper):
    """JSON text the reader already wrote (`extra`), in jsonb's binary format: a version
    byte, then the text. psycopg's own jsonb dumper would serialize the str again, as a
    JSON string."""

    format = pq.Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


class StageWriter:
    """Buffers checked rows and writes them to the staging table in chunks."""

    def __init__(self, batch: ImportBatch, *, flush_rows: int | None = None):
        self.table = _q(stage_table(batch))
        self.flush_rows = flush_rows or FLUSH_ROWS
        self.rows: list[tuple] = []
        self.written = 0
        self.last_line = 0  # of the last row written
        self.postgres = connection.vendor == "postgresql"

    def add(self, row: tuple) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        columns = ", ".join(_q(name) for name in STAGE_COLUMNS)
        with connection.cursor() as cursor:
            if self.postgres:
                # psycopg's own cursor: Django's wrapper has no copy(). Binary, with the
                # types given: cheaper than text on both sides (no timestamps to parse).
                sql = f"COPY {self.table} ({columns}) FROM STDIN (FORMAT BINARY)"
                cursor.cursor.adapters.register_dumper(None, _JsonTextDumper)
                with cursor.cursor.copy(sql) as copy:
                    copy.set_types(_STAGE_TYPES)
                    for row in self.rows:
                        copy.write_row(row)
            else:
                placeholders = ", ".join(["%s"] * len(STAGE_COLUMNS))
                cursor.executemany(
                    f"INSERT INTO {self.table} ({columns}) VALUES ({placeholders})",  # noqa: S608
                    self.rows,
                )
        self.written += len(self.rows)
        self.last_line = self.rows[-1][0]
        self.rows.clear()


def publish_begin() -> None:
    """Set the publishing transaction up (PostgreSQL): room to sort in memory, and
    constraints checked as each range goes in rather than all at commit, so that
    PostgreSQL never holds ten million pending checks in memory at once."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{PUBLISH_WORK_MEM}'")
        # No JIT: each range's INSERT ... SELECT and the exposure rebuild cost enough
        # to pass jit_above_cost, and compiling them took 0.4-0.65 s a statement,
        # more than many ranges take to run (measured on a million rows).
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _lines(after_line: int, upto_line: int | None) -> tuple[str, list[int]]:
    if not after_line and upto_line is None:
        return "", []
    lines = "AND stage.line > %s" + (" AND stage.line <= %s" if upto_line is not None else "")
    return lines, [after_line] + ([upto_line] if upto_line is not None else [])


def publish_statement(
    *, batch: ImportBatch, after_line: int = 0, upto_line: int | None = None
) -> tuple[str, list]:
    """PostgreSQL: the statement that publishes a range of the staged lines, and its
    parameters (a function of its own so that a test can EXPLAIN it)."""
    stage = _q(stage_table(batch))
    log = _q(MessageLogRecord._meta.db_table)
    columns = ", ".join(_q(name) for name in _LOG_COLUMNS)
    selected = ", ".join(f"stage.{_q(name)}" for name in _LOG_COLUMNS)
    lines, params = _lines(after_line, upto_line)
    # DISTINCT ON after sorting by message id: duplicates inside the range go before
    # the insert, and the unique index is filled in its own order. A message id the
    # incident already has is skipped by ON CONFLICT, one probe of the unique index per
    # row: the plan has no join against the big table for the planner to get wrong.
    # (NOT EXISTS was a quarter cheaper on an empty table, but on a table holding
    # another incident the planner, with no statistics for the new incident's rows,
    # chose a nested loop over a materialized scan of them: each range slower than the
    # last, and a million-row import not done in twelve minutes.)
    sql = f"""
        WITH inserted AS (
            INSERT INTO {log} (incident_id, import_batch_id, {columns})
            SELECT DISTINCT ON (stage.provider_message_id) %s, %s, {selected}
            FROM {stage} AS stage
            WHERE true {lines}
            ORDER BY stage.provider_message_id, stage.line
            ON CONFLICT (incident_id, provider_message_id) DO NOTHING
            RETURNING organization_id
        )
        SELECT organization_id, COUNT(*) FROM inserted GROUP BY organization_id
    """  # noqa: S608
    return sql, [batch.incident_id, batch.pk, *params]


def stage_publish(
    *, batch: ImportBatch, after_line: int = 0, upto_line: int | None = None
) -> tuple[int, dict[int, int | None]]:
    """Insert the staged rows of lines after_line < line <= upto_line (all, without
    upto_line) into the big table; returns (rows inserted, {id of each account that
    got any: how many}, the how many being None on SQLite, whose statement cannot
    say). Run it inside the publishing transaction, ranges in line order.

    Of the rows sharing a message id, the one on the earliest line is kept; a message
    id the incident already has (from another batch, or an earlier range) is left
    alone.
    """
    stage = _q(stage_table(batch))
    log = _q(MessageLogRecord._meta.db_table)
    columns = ", ".join(_q(name) for name in _LOG_COLUMNS)
    targets = f"incident_id, import_batch_id, {columns}"
    lines, params = _lines(after_line, upto_line)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql, statement_params = publish_statement(
                batch=batch, after_line=after_line, upto_line=upto_line
            )
            cursor.execute(sql, statement_params)
            by_account = dict(cursor.fetchall())
            return sum(by_account.values()), by_account
        # SQLite: rows go in by line, and ON CONFLICT DO NOTHING skips a message id
        # already inserted, by this statement or before. "WHERE true" keeps SQLite's
        # parser from reading ON CONFLICT as a join constraint.
        selected = ", ".join(f"stage.{_q(name)}" for name in _LOG_COLUMNS)
        cursor.execute(
            f"""
            INSERT INTO {log} ({targets})
            SELECT %s, %s, {selected} FROM {stage} AS stage WHERE true {lines}
            ORDER BY stage.line
            ON CONFLICT (incident_id, provider_message_id) DO NOTHING
            """,  # noqa: S608
            [batch.incident_id, batch.pk, *params],
        )
        inserted = cursor.rowcount
        if not inserted:
            return 0, {}
        # The staged accounts: some may have had only duplicates, and get their
        # exposures rebuilt for nothing; SQLite has no INSERT ... RETURNING in a CTE.
        cursor.execute(
            f"SELECT DISTINCT organization_id FROM {stage} AS stage WHERE true {lines}",  # noqa: S608
            params,
        )
        return inserted, dict.fromkeys(row[0] for row in cursor.fetchall())


def publish_end(*, batch: ImportBatch, organization_ids: list[int]) -> None:
    """After the last range: constraints back to deferred for what the transaction
    does next, and the referenced rows held. (The log table's statistics are
    refreshed by the exposure rebuild, if it reads the table: see ANALYZE_AFTER_ROWS.)"""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        _hold_references(cursor, batch, organization_ids)


def _hold_references(cursor, batch: ImportBatch, organization_ids: list[int]) -> None:
    """Lock the incident and accounts the new rows point at (FOR KEY SHARE) until
    the transaction ends, and fail if one is gone.

    The big table has no foreign-key constraints (they cost a third of the import:
    see MessageLogRecord); this is the same check done once per referenced row
    instead of once per log row, and the lock keeps the incident and accounts from
    going away until the new rows are committed.
    """
    cursor.execute(
        f"SELECT id FROM {_q(Incident._meta.db_table)} WHERE id = %s FOR KEY SHARE",  # noqa: S608
        [batch.incident_id],
    )
    found = len(cursor.fetchall())
    if organization_ids:
        cursor.execute(
            f"SELECT id FROM {_q(Organization._meta.db_table)} WHERE id = ANY(%s) FOR KEY SHARE",  # noqa: S608
            [organization_ids],
        )
        found += len(cursor.fetchall())
    if found != 1 + len(organization_ids):
        raise ImportRefusedError(
            Reason(
                gettext_noop(
                    "The incident or an account was deleted while the import ran; nothing "
                    "was loaded."
                )
            )
        )
