"""A card-transaction simulator with labelled fraud scenarios, streamed to Parquet in batches.

The world (customers, cards, terminals) and each simulated day draw from their own child of
``numpy.random.SeedSequence(seed)``, so the rows depend on the seed only, never on batching.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from os import PathLike
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.datasets._scenarios import (
    CARD_DAYS,
    NONE,
    SCENARIOS,
    TERMINAL_DAYS,
    DayEvents,
    Rows,
    apply_compromises,
    draw_events,
)
from engine.datasets._world import TX_PER_CUSTOMER_DAY, World, build_world

# Column -> tokenization kind of the identifiers on every simulated transaction.
TRANSACTION_PII: dict[str, str] = {
    "customer_id": "id",
    "card_number": "pan",
    "cardholder_name": "name",
    "email": "email",
    "iban": "iban",
    "phone": "phone",
    "device_id": "id",
    "terminal_id": "id",
}
SCHEMA: Final = pa.schema(
    [
        ("transaction_id", pa.int64()),
        ("timestamp", pa.timestamp("us")),
        ("customer_id", pa.string()),
        ("card_number", pa.string()),
        ("cardholder_name", pa.string()),
        ("email", pa.string()),
        ("iban", pa.string()),
        ("phone", pa.string()),
        ("device_id", pa.string()),
        ("terminal_id", pa.string()),
        ("merchant_category", pa.string()),
        ("distance_km", pa.float64()),
        ("amount_cents", pa.int64()),
        ("is_fraud", pa.bool_()),
        ("fraud_scenario", pa.string()),
    ]
)
_DAY_S: Final = 86_400
_DEFAULT_DAYS: Final = 365
_WORLD, _DAY, _EVENTS = 0, 1, 2  # SeedSequence spawn keys: world, genuine rows, fraud events.


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationSummary:
    """What ``write_transactions`` wrote.

    Args:
        n_rows: Rows written.
        n_days: Days simulated (the last one may be cut short).
        n_fraud: Rows with ``is_fraud``.
        by_scenario: Rows per ``fraud_scenario`` value, ``"none"`` included.
    """

    n_rows: int
    n_days: int
    n_fraud: int
    by_scenario: Mapping[str, int]


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _sizes(n_rows: int, n_customers: int | None, n_terminals: int | None) -> tuple[int, int]:
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 1:
        raise ValueError("n_rows must be a positive integer")
    if n_customers is None:
        # About a year of history whatever the size.
        n_customers = max(100, math.ceil(n_rows / (_DEFAULT_DAYS * TX_PER_CUSTOMER_DAY)))
    if n_terminals is None:
        n_terminals = max(100, n_customers)
    if n_customers < 1 or n_terminals < 1:
        raise ValueError("n_customers and n_terminals must be positive")
    return n_customers, n_terminals


def _genuine(rng: np.random.Generator, world: World) -> Rows:
    """Draw one day of the customers' own transactions at terminals near home."""
    customer = np.repeat(
        np.arange(world.n_customers, dtype=np.int64), rng.poisson(world.tx_per_day)
    )
    m = len(customer)
    # Shopping peaks at noon (sd 5 h); the tails wrap around midnight into the night.
    secs = np.mod(rng.normal(_DAY_S / 2, 5 * 3_600, m), _DAY_S).astype(np.int64)
    mean = world.mean_cents[customer]
    amount = rng.normal(mean, world.std_cents[customer])
    amount = np.where(amount < 0, rng.uniform(0, 2 * mean), amount)
    card = world.card_offset[customer] + (rng.random(m) * world.card_count[customer]).astype(
        np.int64
    )
    pick = rng.integers(0, world.nearby.shape[1], m)
    return Rows(
        secs=secs,
        customer=customer,
        card=card,
        terminal=world.nearby[customer, pick],
        device=customer,
        amount_cents=np.maximum(np.rint(amount), 1).astype(np.int64),
        scenario=np.zeros(m, dtype=np.int8),
    )


def _merge(genuine: Rows, injected: Rows) -> Rows:
    parts = (genuine, injected)
    secs = np.concatenate([p.secs for p in parts])
    order = np.argsort(secs, kind="stable")
    cols = {
        name: np.concatenate([getattr(p, name) for p in parts])[order]
        for name in ("customer", "card", "terminal", "device", "amount_cents", "scenario")
    }
    return Rows(secs=secs[order], **cols)


def _table(world: World, rows: Rows, events: DayEvents, *, day_us: int, first_id: int) -> pa.Table:
    devices = world.device_id
    if events.new_devices:
        devices = pa.concat_arrays([devices, pa.array(events.new_devices, pa.string())])
    customer, card = pa.array(rows.customer), pa.array(rows.card)
    terminal = pa.array(rows.terminal)
    offset = world.home_km[rows.customer] - world.terminal_km[rows.terminal]
    columns = [
        pa.array(np.arange(first_id, first_id + len(rows.secs), dtype=np.int64)),
        pa.array((day_us + rows.secs * 1_000_000).astype("datetime64[us]")),
        world.customer_id.take(customer),
        world.card_number.take(card),
        world.cardholder_name.take(customer),
        world.email.take(customer),
        world.iban.take(customer),
        world.phone.take(customer),
        devices.take(pa.array(rows.device)),
        world.terminal_id.take(terminal),
        world.merchant_category.take(terminal),
        pa.array(np.round(np.hypot(offset[:, 0], offset[:, 1]), 2)),
        pa.array(rows.amount_cents),
        pa.array(rows.scenario != NONE),
        pa.array(SCENARIOS, pa.string()).take(pa.array(rows.scenario)),
    ]
    return pa.Table.from_arrays(columns, schema=SCHEMA)


def _days(world: World, *, seed: int) -> Iterator[tuple[Rows, DayEvents]]:
    """Yield every day's rows, sorted by time, forever."""
    terminals: deque[np.ndarray] = deque(maxlen=TERMINAL_DAYS)
    cards: deque[np.ndarray] = deque(maxlen=CARD_DAYS)
    day = 0
    while True:
        tx_rng, events = _rng(seed, _DAY, day), draw_events(_rng(seed, _EVENTS, day), world)
        terminals.append(events.terminals)
        cards.append(events.cards)
        genuine = apply_compromises(
            tx_rng,
            _genuine(tx_rng, world),
            terminals=np.concatenate(list(terminals)),
            cards=np.concatenate(list(cards)),
        )
        yield _merge(genuine, events.injected), events
        day += 1


def _blocks(
    n_rows: int,
    *,
    seed: int,
    start: str | pd.Timestamp,
    n_customers: int | None,
    n_terminals: int | None,
) -> Iterator[pa.Table]:
    """Check the arguments now; return the tables of the days until ``n_rows`` rows."""
    n_customers, n_terminals = _sizes(n_rows, n_customers, n_terminals)
    stamp = pd.Timestamp(start)
    if stamp.tzinfo is not None:
        raise ValueError("start must be a naive (local-time) timestamp")
    start_us = int(stamp.as_unit("us").asm8.view(np.int64))
    world = build_world(_rng(seed, _WORLD), n_customers=n_customers, n_terminals=n_terminals)
    return _tables(world, n_rows=n_rows, seed=seed, start_us=start_us)


def _tables(world: World, *, n_rows: int, seed: int, start_us: int) -> Iterator[pa.Table]:
    done = 0
    for day, (rows, events) in enumerate(_days(world, seed=seed)):
        day_us = start_us + day * _DAY_S * 1_000_000
        table = _table(world, rows, events, day_us=day_us, first_id=done)
        table = table.slice(0, n_rows - done)
        done += len(table)
        yield table
        if done >= n_rows:
            return


def simulate_transactions(
    n_rows: int,
    *,
    seed: int = 0,
    start: str | pd.Timestamp = "2025-01-01",
    n_customers: int | None = None,
    n_terminals: int | None = None,
) -> pd.DataFrame:
    """Simulate card transactions with labelled fraud and synthetic personal details.

    Customers live on a 100 km square with a spending profile (mean and standard deviation
    of the amount, transactions per day) and one to three cards; each day every customer
    pays at terminals near home. Fraud (``is_fraud``, ``fraud_scenario``): amounts over
    220.00, compromised terminals (every payment for 28 days), compromised cards (a third of
    the next 14 days' amounts times five), card-testing bursts (5-20 payments of 1.00-2.99
    seconds apart) and account takeover (a new device far from home, then large amounts).
    Rows are in time order; the output depends on the arguments only.

    Args:
        n_rows: Number of transactions.
        seed: Seed of the simulation.
        start: Local date and time at which the first day begins.
        n_customers: Customers (default: enough for about a year of history, at least 100).
        n_terminals: Terminals (default: as many as customers, at least 100).

    Returns:
        One row per transaction, with the columns of ``SCHEMA``: identifiers of
        :data:`TRANSACTION_PII`, ``merchant_category``, ``distance_km`` (home to terminal),
        ``amount_cents`` (int64), ``is_fraud`` and ``fraud_scenario``.

    Raises:
        ValueError: a non-positive size, or a time-zone-aware ``start``.

    Example:
        >>> df = simulate_transactions(1_000, seed=1)
        >>> len(df), df["amount_cents"].dtype.name, bool(df["timestamp"].is_monotonic_increasing)
        (1000, 'int64', True)
    """
    blocks = _blocks(
        n_rows, seed=seed, start=start, n_customers=n_customers, n_terminals=n_terminals
    )
    frame: pd.DataFrame = pa.concat_tables(list(blocks)).to_pandas()
    return frame


def write_transactions(
    path: str | PathLike[str],
    n_rows: int,
    *,
    seed: int = 0,
    start: str | pd.Timestamp = "2025-01-01",
    n_customers: int | None = None,
    n_terminals: int | None = None,
    batch_rows: int = 1_000_000,
) -> SimulationSummary:
    """Write the rows of :func:`simulate_transactions` to one Parquet file, in row groups.

    Memory stays bounded by about ``batch_rows`` rows plus one simulated day; the file's
    rows are the same whatever ``batch_rows`` is.

    Args:
        path: The Parquet file to write (zstd-compressed).
        n_rows: Number of transactions.
        seed: Seed of the simulation.
        start: Local date and time at which the first day begins.
        n_customers: Customers, as in :func:`simulate_transactions`.
        n_terminals: Terminals, as in :func:`simulate_transactions`.
        batch_rows: Rows per Parquet row group.

    Returns:
        The counts of what was written.

    Raises:
        ValueError: a non-positive size, or a time-zone-aware ``start``.
    """
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise ValueError("batch_rows must be a positive integer")
    blocks = _blocks(
        n_rows, seed=seed, start=start, n_customers=n_customers, n_terminals=n_terminals
    )
    counts = np.zeros(len(SCENARIOS), dtype=np.int64)
    pending: list[pa.Table] = []
    pending_rows = days = 0
    with pq.ParquetWriter(path, SCHEMA, compression="zstd") as writer:
        for table in blocks:
            days += 1
            for item in pc.value_counts(table.column("fraud_scenario")).to_pylist():
                counts[SCENARIOS.index(item["values"])] += item["counts"]
            pending.append(table)
            pending_rows += len(table)
            while pending_rows >= batch_rows:
                combined = pa.concat_tables(pending)
                writer.write_table(combined.slice(0, batch_rows), row_group_size=batch_rows)
                pending = [combined.slice(batch_rows)]
                pending_rows -= batch_rows
        if pending_rows:
            writer.write_table(pa.concat_tables(pending), row_group_size=batch_rows)
    by_scenario = dict(zip(SCENARIOS, counts.tolist(), strict=True))
    return SimulationSummary(
        n_rows=int(counts.sum()),
        n_days=days,
        n_fraud=int(counts.sum() - counts[NONE]),
        by_scenario=by_scenario,
    )
