"""Fraud scenarios of the transaction simulator: what is drawn each day and how rows change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from engine.datasets._world import World, device_ids

# Values of the ``fraud_scenario`` column; the position is the code used internally.
SCENARIOS: Final = (
    "none",
    "amount_threshold",
    "compromised_terminal",
    "compromised_card",
    "card_testing",
    "account_takeover",
)
NONE, THRESHOLD, TERMINAL, CARD, TESTING, TAKEOVER = range(len(SCENARIOS))
AMOUNT_THRESHOLD_CENTS: Final = 22_000
# Scenarios 2 and 3 of Le Borgne et al. (2022), section 3.5: compromised terminals stay so
# for 28 days; a compromised card has a third of its next 14 days' amounts multiplied by 5.
TERMINAL_RATE: Final = 1e-4  # per terminal and day
TERMINAL_DAYS: Final = 28
CARD_RATE: Final = 3e-4  # per card and day
CARD_DAYS: Final = 14
CARD_SHARE: Final = 1 / 3
CARD_FACTOR: Final = 5
TESTING_RATE: Final = 1e-4  # bursts per card and day
TAKEOVER_RATE: Final = 1e-4  # per customer and day
_DAY_S: Final = 86_400


@dataclass(frozen=True, slots=True, kw_only=True)
class Rows:
    """Transactions as parallel arrays; ``device`` >= customers indexes ``new_devices``."""

    secs: NDArray[np.int64]  # seconds since the start of the day
    customer: NDArray[np.int64]
    card: NDArray[np.int64]
    terminal: NDArray[np.int64]
    device: NDArray[np.int64]
    amount_cents: NDArray[np.int64]
    scenario: NDArray[np.int8]


@dataclass(frozen=True, slots=True, kw_only=True)
class DayEvents:
    """What the fraudsters start on one day, and the rows they add that day."""

    terminals: NDArray[np.int64]
    cards: NDArray[np.int64]
    injected: Rows
    new_devices: list[str]


def draw_events(rng: np.random.Generator, world: World) -> DayEvents:
    """Draw one day's compromises, card-testing bursts and account takeovers."""
    terminals = rng.integers(0, world.n_terminals, rng.poisson(TERMINAL_RATE * world.n_terminals))
    cards = rng.integers(0, world.n_cards, rng.poisson(CARD_RATE * world.n_cards))
    testing = _card_testing(rng, world)
    takeover = _takeover(rng, world)
    devices = device_ids(rng, testing[1] + takeover[1])
    # Injected rows carry device codes past the customers' own devices.
    parts = (testing[0], takeover[0])
    offsets = (world.n_customers, world.n_customers + testing[1])
    rows = Rows(
        secs=np.concatenate([p.secs for p in parts]),
        customer=np.concatenate([p.customer for p in parts]),
        card=np.concatenate([p.card for p in parts]),
        terminal=np.concatenate([p.terminal for p in parts]),
        device=np.concatenate([p.device + o for p, o in zip(parts, offsets, strict=True)]),
        amount_cents=np.concatenate([p.amount_cents for p in parts]),
        scenario=np.concatenate([p.scenario for p in parts]),
    )
    return DayEvents(terminals=terminals, cards=cards, injected=rows, new_devices=devices)


def _bursts(
    rng: np.random.Generator, sizes: NDArray[np.int64], *, gap_s: float, span_s: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Return the event number and time of day of every row of bursts of ``sizes`` rows."""
    event = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    start = rng.integers(0, _DAY_S - span_s, len(sizes))
    gaps = rng.exponential(gap_s, int(sizes.sum()))
    # Cumulative gaps restart at every burst: subtract the running total at its first row.
    total = np.concatenate([[0.0], np.cumsum(gaps)])
    first = np.cumsum(sizes) - sizes
    within = total[1:] - np.repeat(total[first], sizes)
    secs = np.minimum(start[event] + within.astype(np.int64), _DAY_S - 1)
    return event, secs


def _card_testing(rng: np.random.Generator, world: World) -> tuple[Rows, int]:
    """Bursts of 5 to 20 small amounts, seconds apart, on one stolen card at one terminal."""
    n = rng.poisson(TESTING_RATE * world.n_cards)
    cards = rng.integers(0, world.n_cards, n)
    terminals = rng.integers(0, world.n_terminals, n)
    sizes = rng.integers(5, 21, n).astype(np.int64)
    event, secs = _bursts(rng, sizes, gap_s=20.0, span_s=3_600)
    rows = Rows(
        secs=secs,
        customer=world.card_owner[cards[event]],
        card=cards[event],
        terminal=terminals[event],
        device=event,
        amount_cents=rng.integers(100, 300, len(event)).astype(np.int64),
        scenario=np.full(len(event), TESTING, dtype=np.int8),
    )
    return rows, int(n)


def _takeover(rng: np.random.Generator, world: World) -> tuple[Rows, int]:
    """A new device far from home: one ordinary amount, then one to four large ones."""
    n = rng.poisson(TAKEOVER_RATE * world.n_customers)
    customers = rng.integers(0, world.n_customers, n)
    sizes = rng.integers(2, 6, n).astype(np.int64)
    event, secs = _bursts(rng, sizes, gap_s=1_200.0, span_s=4 * 3_600)
    customer = customers[event]
    mean = world.mean_cents[customer]
    is_first = np.diff(event, prepend=-1) != 0
    large = np.maximum(mean * rng.uniform(10.0, 30.0, len(event)), 30_000.0)
    rows = Rows(
        secs=secs,
        customer=customer,
        card=world.card_offset[customer],
        terminal=rng.integers(0, world.n_terminals, len(event)),
        device=event,
        amount_cents=np.rint(np.where(is_first, mean, large)).astype(np.int64),
        scenario=np.full(len(event), TAKEOVER, dtype=np.int8),
    )
    return rows, int(n)


def apply_compromises(
    rng: np.random.Generator,
    rows: Rows,
    *,
    terminals: NDArray[np.int64],
    cards: NDArray[np.int64],
) -> Rows:
    """Label genuine rows: over the threshold, at a compromised terminal, on a compromised card.

    A row matching several scenarios gets the last of threshold, terminal, card.
    """
    hit = rng.random(len(rows.secs)) < CARD_SHARE
    on_card = np.isin(rows.card, cards) & hit
    amount = np.where(on_card, rows.amount_cents * CARD_FACTOR, rows.amount_cents)
    scenario = np.where(amount > AMOUNT_THRESHOLD_CENTS, THRESHOLD, NONE).astype(np.int8)
    scenario[np.isin(rows.terminal, terminals)] = TERMINAL
    scenario[on_card] = CARD
    return Rows(
        secs=rows.secs,
        customer=rows.customer,
        card=rows.card,
        terminal=rows.terminal,
        device=rows.device,
        amount_cents=amount.astype(np.int64),
        scenario=scenario,
    )
