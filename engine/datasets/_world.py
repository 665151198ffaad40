"""The simulated world behind the transactions: customers, cards and terminals, from a seed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray
from sklearn.neighbors import KDTree

from engine.datasets._pii import emails, full_names, german_ibans, pans, person_names, phones

# Merchant category codes (ISO 18245) with their share of terminals.
MERCHANT_CATEGORIES: Final = (
    ("5411", 0.22),  # grocery stores, supermarkets
    ("5812", 0.14),  # restaurants
    ("5814", 0.10),  # fast food
    ("5541", 0.09),  # service stations
    ("5912", 0.07),  # pharmacies
    ("5311", 0.07),  # department stores
    ("5999", 0.08),  # miscellaneous retail
    ("5732", 0.05),  # electronics
    ("4121", 0.06),  # taxis and ride sharing
    ("7011", 0.04),  # hotels
    ("5815", 0.08),  # digital goods
)
# The map is a square of this side; customers shop at their nearest terminals.
MAP_KM: Final = 100.0
NEARBY_TERMINALS: Final = 20
# Spending profiles, after the simulator of Le Borgne et al., "Reproducible Machine Learning
# for Credit Card Fraud Detection - Practical Handbook" (2022), section 3.2.
MEAN_AMOUNT_CENTS: Final = (500.0, 10_000.0)
MAX_TX_PER_DAY: Final = 4.0
TX_PER_CUSTOMER_DAY: Final = MAX_TX_PER_DAY / 2


@dataclass(frozen=True, slots=True, kw_only=True)
class World:
    """Every customer, card and terminal of one simulation (arrays indexed by their number)."""

    home_km: NDArray[np.float64]  # (customers, 2)
    mean_cents: NDArray[np.float64]
    std_cents: NDArray[np.float64]
    tx_per_day: NDArray[np.float64]
    card_offset: NDArray[np.int64]  # first card of each customer
    card_count: NDArray[np.int64]
    card_owner: NDArray[np.int64]  # customer of each card
    nearby: NDArray[np.int64]  # (customers, k) nearest terminals
    terminal_km: NDArray[np.float64]  # (terminals, 2)
    customer_id: pa.Array
    cardholder_name: pa.Array
    email: pa.Array
    iban: pa.Array
    phone: pa.Array
    device_id: pa.Array
    card_number: pa.Array
    terminal_id: pa.Array
    merchant_category: pa.Array  # per terminal

    @property
    def n_customers(self) -> int:
        """The number of customers."""
        return len(self.mean_cents)

    @property
    def n_cards(self) -> int:
        """The number of cards."""
        return len(self.card_owner)

    @property
    def n_terminals(self) -> int:
        """The number of terminals."""
        return len(self.terminal_km)


def device_ids(rng: np.random.Generator, n: int) -> list[str]:
    """Draw ``n`` random 16-hex-digit device ids."""
    return [f"{v:016x}" for v in rng.integers(0, 2**63, n, dtype=np.int64).tolist()]


def build_world(rng: np.random.Generator, *, n_customers: int, n_terminals: int) -> World:
    """Draw the customers, their cards and details, and the terminals, in a fixed order."""
    home = rng.uniform(0.0, MAP_KM, size=(n_customers, 2))
    mean = rng.uniform(*MEAN_AMOUNT_CENTS, size=n_customers)
    rate = rng.uniform(0.0, MAX_TX_PER_DAY, size=n_customers)
    card_count = 1 + rng.binomial(2, 0.25, size=n_customers).astype(np.int64)
    card_offset = np.concatenate([[0], np.cumsum(card_count)[:-1]]).astype(np.int64)
    n_cards = int(card_count.sum())
    terminal_km = rng.uniform(0.0, MAP_KM, size=(n_terminals, 2))
    codes = np.array([code for code, _ in MERCHANT_CATEGORIES])
    shares = np.array([share for _, share in MERCHANT_CATEGORIES])
    mcc = codes[rng.choice(len(codes), size=n_terminals, p=shares / shares.sum())]
    k = min(NEARBY_TERMINALS, n_terminals)
    nearby = KDTree(terminal_km).query(home, k=k, return_distance=False).astype(np.int64)
    first, last = person_names(rng, n_customers)
    return World(
        home_km=home,
        mean_cents=mean,
        std_cents=mean / 2,
        tx_per_day=rate,
        card_offset=card_offset,
        card_count=card_count,
        card_owner=np.repeat(np.arange(n_customers, dtype=np.int64), card_count),
        nearby=nearby,
        terminal_km=terminal_km,
        customer_id=pa.array([f"C{i:09d}" for i in range(n_customers)], pa.string()),
        cardholder_name=pa.array(full_names(first, last).tolist(), pa.string()),
        email=pa.array(emails(rng, first, last), pa.string()),
        iban=pa.array(german_ibans(rng, n_customers), pa.string()),
        phone=pa.array(phones(rng, n_customers), pa.string()),
        device_id=pa.array(device_ids(rng, n_customers), pa.string()),
        card_number=pa.array(pans(rng, n_cards), pa.string()),
        terminal_id=pa.array([f"T{i:08d}" for i in range(n_terminals)], pa.string()),
        merchant_category=pa.array(mcc.tolist(), pa.string()),
    )
