"""Reading objects from a device with as few requests as possible, and turning values into
numbers and text.

Tables are walked several columns at a time: one GETBULK carries a cursor per column still
open, so a table of ``n`` columns and ``r`` rows costs about ``n * r / 48`` requests instead
of ``n`` separate walks. Every walk is bounded (rows per column, requests) and refuses an
agent whose OIDs go backwards, so a looping or endless agent costs one check, not the engine.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Final

from branchops.snmp import (
    ErrorStatus,
    Oid,
    SnmpClient,
    SnmpErrorStatus,
    SnmpProtocolError,
    SnmpType,
    Target,
    VarBind,
    format_oid,
)

# Varbinds asked per request: 48 table objects of ~25 octets fit a 1472-octet datagram even
# with SNMPv3 overhead; agents cut GETBULK answers to their message size anyway.
VARBINDS_PER_REQUEST: Final = 48
MAX_REPETITIONS: Final = 25
DEFAULT_MAX_ROWS: Final = 10_000
GET_BATCH: Final = 40
GET_CONCURRENCY: Final = 4  # GETs in flight to one device: gentle on small CPUs

NUMERIC_TYPES: Final = frozenset(
    (SnmpType.INTEGER, SnmpType.COUNTER32, SnmpType.GAUGE32, SnmpType.TIMETICKS,
     SnmpType.COUNTER64)
)  # fmt: skip

Column = dict[Oid, VarBind]  # row index (the OID arcs after the column) -> the object


async def walk_columns(
    client: SnmpClient,
    target: Target,
    columns: Sequence[Oid],
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> list[Column]:
    """Every instance of each column, walked together with GETBULK; one dict per column."""
    found: list[Column] = [{} for _ in columns]
    cursors = list(columns)
    active = list(range(len(columns)))
    while active:
        repetitions = max(1, min(MAX_REPETITIONS, VARBINDS_PER_REQUEST // len(active)))
        varbinds = await client.get_bulk(target, 0, repetitions, [cursors[i] for i in active])
        ended: set[int] = set()
        advanced = False
        for position, varbind in enumerate(varbinds):
            column = active[position % len(active)]
            if column in ended:
                continue  # the agent keeps answering past a column's end: not ours
            base = columns[column]
            if varbind.is_exception or varbind.oid[: len(base)] != base:
                ended.add(column)
                continue
            if varbind.oid <= cursors[column]:
                raise SnmpProtocolError(
                    f"{target.host}: walk went backwards at {format_oid(varbind.oid)}"
                )
            found[column][varbind.oid[len(base) :]] = varbind
            cursors[column] = varbind.oid
            advanced = True
            if len(found[column]) > max_rows:
                raise SnmpProtocolError(
                    f"{target.host}: table column {format_oid(base)} has more than {max_rows} rows"
                )
        if not advanced and not ended:
            raise SnmpProtocolError(f"{target.host}: GETBULK answer without usable objects")
        active = [column for column in active if column not in ended]
    return found


async def get_objects(
    client: SnmpClient, target: Target, oids: Sequence[Oid]
) -> dict[Oid, VarBind]:
    """GET of many objects in batches (a few in flight), halving a batch the agent finds too
    big. Absent objects come back as noSuch* varbinds, so callers test ``is_exception``."""
    if not oids:
        return {}
    batches = [list(oids[i : i + GET_BATCH]) for i in range(0, len(oids), GET_BATCH)]
    if len(batches) == 1:
        return {varbind.oid: varbind for varbind in await _get_fitting(client, target, batches[0])}
    slots = asyncio.Semaphore(GET_CONCURRENCY)

    async def one(batch: list[Oid]) -> list[VarBind]:
        async with slots:
            return await _get_fitting(client, target, batch)

    # Every batch runs to its end (no error left unretrieved), then the first error wins.
    answers = await asyncio.gather(*(one(batch) for batch in batches), return_exceptions=True)
    found: dict[Oid, VarBind] = {}
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
        found.update((varbind.oid, varbind) for varbind in answer)
    return found


async def _get_fitting(client: SnmpClient, target: Target, oids: list[Oid]) -> list[VarBind]:
    try:
        return await client.get(target, oids)
    except SnmpErrorStatus as exc:
        if exc.status != ErrorStatus.TOO_BIG or len(oids) == 1:
            raise
    half = len(oids) // 2
    return [
        *await _get_fitting(client, target, oids[:half]),
        *await _get_fitting(client, target, oids[half:]),
    ]


def number(varbind: VarBind | None) -> float | None:
    """A varbind's value as a finite number, or None (absent, not numeric).

    Some vendors serve numbers as text ("12.5"), so numeric OCTET STRINGs count too.
    """
    if varbind is None or varbind.is_exception:
        return None
    value = varbind.value
    if varbind.type in NUMERIC_TYPES and isinstance(value, int):
        return float(value)
    if isinstance(value, bytes) and 0 < len(value) <= 32:
        try:
            parsed = float(value.decode("ascii").strip().rstrip("%"))
        except (UnicodeDecodeError, ValueError):
            return None
        return parsed if math.isfinite(parsed) else None
    return None


def integer(varbind: VarBind | None) -> int | None:
    """An integer-typed value (status enumerations, counters), else None."""
    if varbind is None or varbind.type not in NUMERIC_TYPES:
        return None
    value = varbind.value
    return value if isinstance(value, int) else None


def text(varbind: VarBind | None) -> str | None:
    """A varbind's value as a label: names, descriptions; None when absent or empty."""
    if varbind is None or varbind.is_exception:
        return None
    value = varbind.value
    if isinstance(value, bytes):
        return decode_label(value) or None
    if isinstance(value, tuple):
        return format_oid(value)
    if isinstance(value, int | str):
        return str(value)
    return None


def decode_label(raw: bytes) -> str:
    """Display text from a device: UTF-8, else GB18030, which Chinese-market firmware often
    uses for interface descriptions and tunnel names typed in Chinese. Control characters
    and trailing NULs (C strings sent whole) are dropped."""
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        decoded = raw.decode("gb18030", errors="replace")
    cleaned = "".join(ch for ch in decoded if ch.isprintable())
    return cleaned.strip()[:256]


def index_text(index: Oid) -> str:
    return format_oid(index) if len(index) > 1 else str(index[0]) if index else ""
