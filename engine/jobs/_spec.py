"""Job specs: TOML files validated into typed, frozen objects."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from engine.errors import ConfigError, InputError

_KINDS = ("id", "name", "ssn", "pan", "iban", "email", "phone", "date", "text")


class Task(Enum):
    """What the model predicts."""

    CREDIT = "credit"
    FRAUD = "fraud"


class Algorithm(Enum):
    """The model scored on ciphertexts; both are linear in what the owner encrypts."""

    LOGISTIC = "logistic"
    SCORECARD = "scorecard"


@dataclass(frozen=True, slots=True, kw_only=True)
class FraudColumns:
    """The ``[model.fraud]`` table: which columns the fraud features are computed over.

    Attributes:
        card: Card column; must be listed in ``[pii]``, so features run over its tokens.
        terminal: Terminal or merchant id column (tokenized too when listed in ``[pii]``).
        time: Timestamp column (parsed as a datetime).
        amount: Amount in integer minor units.
        merchant_category: Optional category column, one-hot encoded.
        test_days: The last days held out and scored encrypted.
        delay_days: Days before the test window left out: their labels are not yet known.
        baseline: Also train the plaintext gradient-boosting baseline for the report.
        k: Cards a day in the report's card-level precision at ``k``.
    """

    card: str = "card_number"
    terminal: str = "terminal_id"
    time: str = "timestamp"
    amount: str = "amount_cents"
    merchant_category: str | None = "merchant_category"
    test_days: int = 28
    delay_days: int = 7
    baseline: bool = True
    k: int = 100

    def __post_init__(self) -> None:
        if self.test_days < 1 or self.delay_days < 0:
            raise ConfigError("[model.fraud] test_days must be >= 1 and delay_days >= 0")
        if self.k < 1:
            raise ConfigError("[model.fraud] k must be at least 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpec:
    """The ``[model]`` table.

    Attributes:
        task: ``credit`` (decision approve/decline) or ``fraud`` (allow/flag).
        label: Label column; 0/1 or two distinct values with ``positive`` naming the event.
        positive: The label value counted as the event (default risk, fraud); default 1.
        features: Numeric feature columns; ``None`` means every numeric column that is
            neither PII nor the label.
        categorical: Columns one-hot encoded by the data owner before encryption.
        test_size: Fraction of rows held out, encrypted and scored.
        threshold: Score at or above which the decision is the adverse one.
        seed: Seed of the train/test split.
        algorithm: ``logistic`` (standardized features) or, for ``credit`` only,
            ``scorecard`` (binned weights of evidence, with a points scale).
        compare_raw: Also fit the model on the raw identifiers, in the driver (which holds
            the input anyway), to report that tokens lose nothing.
        fraud: For ``task = "fraud"``, the ``[model.fraud]`` columns and time split.
    """

    task: Task = Task.CREDIT
    label: str
    positive: str | int = 1
    features: tuple[str, ...] | None = None
    categorical: tuple[str, ...] = ()
    test_size: float = 0.3
    threshold: float = 0.5
    seed: int = 0
    algorithm: Algorithm = Algorithm.LOGISTIC
    compare_raw: bool = True
    fraud: FraudColumns | None = None

    def __post_init__(self) -> None:
        if self.algorithm is Algorithm.SCORECARD and self.task is not Task.CREDIT:
            raise ConfigError("[model] algorithm = 'scorecard' is for task = 'credit' only")
        if not self.label:
            raise ConfigError("[model] label must name a column")
        if not 0.05 <= self.test_size <= 0.95:
            raise ConfigError("[model] test_size must be between 0.05 and 0.95")
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError("[model] threshold must be between 0 and 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    """A validated job spec (see README, "Job spec").

    Attributes:
        input_path: CSV or Parquet file, resolved against the spec file's directory.
        pii: Column name -> tokenization kind.
        model: The ``[model]`` table.
        output_dir: Where the job's outputs go (the CLI's ``--out`` wins).
        scheme: FPE scheme for format-preserving kinds: ``FF1`` (default) or ``FF3-1``.
        batch_rows: Rows per Ray batch for tokenization.
        name: Job name recorded in the manifest.
    """

    input_path: Path
    pii: Mapping[str, str]
    model: ModelSpec
    output_dir: Path = Path("out/job")
    scheme: str = "FF1"
    batch_rows: int = 20_000
    name: str = "job"
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for column, kind in self.pii.items():
            if kind not in _KINDS:
                raise ConfigError(
                    f"[pii] column {column!r}: unknown kind {kind!r} (expected one of "
                    f"{', '.join(_KINDS)})"
                )
        if self.scheme not in ("FF1", "FF3-1"):
            raise ConfigError("[tokenize] scheme must be 'FF1' or 'FF3-1'")
        if self.batch_rows < 100:
            raise ConfigError("[tokenize] batch_rows must be at least 100")
        if self.model.label in self.pii:
            raise ConfigError(f"[model] label {self.model.label!r} is also listed in [pii]")


def _table(doc: Mapping[str, Any], name: str, *, required: bool) -> dict[str, Any]:
    value = doc.get(name)
    if value is None:
        if required:
            raise ConfigError(f"job spec: missing [{name}] table")
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"job spec: [{name}] must be a table")
    return value


def _check_keys(table: Mapping[str, Any], name: str, allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"job spec: unknown option(s) in [{name}]: {', '.join(unknown)}")


def _typed(table: Mapping[str, Any], key: str, default: Any, kind: type, where: str) -> Any:
    """Return ``table[key]`` (or ``default``) if it has the TOML type ``kind``."""
    value = table.get(key, default)
    # bool is an int subclass in Python; TOML keeps them apart, and so do we.
    wrong = isinstance(value, bool) and kind is not bool
    if kind is float and isinstance(value, int) and not wrong:
        return float(value)
    if wrong or not isinstance(value, kind):
        raise ConfigError(f"job spec: [{where}] {key} must be {_TYPE_NAMES[kind]}")
    return value


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _str_tuple(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"job spec: {where} must be a list of column names")
    return tuple(value)


def _fraud_columns(table: Any) -> FraudColumns:
    table = {} if table is None else table
    if not isinstance(table, dict):
        raise ConfigError("job spec: [model.fraud] must be a table")
    where = "model.fraud"
    _check_keys(table, where, set(FraudColumns.__dataclass_fields__))
    category = table.get("merchant_category", "merchant_category")
    if category is not None and not isinstance(category, str):
        raise ConfigError("job spec: [model.fraud] merchant_category must be a string")
    return FraudColumns(
        card=_typed(table, "card", "card_number", str, where),
        terminal=_typed(table, "terminal", "terminal_id", str, where),
        time=_typed(table, "time", "timestamp", str, where),
        amount=_typed(table, "amount", "amount_cents", str, where),
        merchant_category=category,
        test_days=_typed(table, "test_days", 28, int, where),
        delay_days=_typed(table, "delay_days", 7, int, where),
        baseline=_typed(table, "baseline", True, bool, where),
        k=_typed(table, "k", 100, int, where),
    )


def _positive(value: Any) -> str | int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigError("job spec: [model] positive must be a string or an integer")
    return value


def _model_spec(table: Mapping[str, Any]) -> ModelSpec:
    _check_keys(
        table,
        "model",
        {
            "task",
            "label",
            "positive",
            "features",
            "categorical",
            "test_size",
            "threshold",
            "seed",
            "algorithm",
            "compare_raw",
            "fraud",
        },
    )
    try:
        task = Task(table.get("task", "credit"))
    except ValueError:
        raise ConfigError("[model] task must be 'credit' or 'fraud'") from None
    try:
        algorithm = Algorithm(table.get("algorithm", "logistic"))
    except ValueError:
        raise ConfigError("[model] algorithm must be 'logistic' or 'scorecard'") from None
    label = table.get("label")
    if not isinstance(label, str):
        raise ConfigError("[model] label is required and must be a column name")
    features = table.get("features")
    return ModelSpec(
        task=task,
        label=label,
        positive=_positive(table.get("positive", 1)),
        features=None if features is None else _str_tuple(features, "[model] features"),
        categorical=_str_tuple(table.get("categorical", []), "[model] categorical"),
        test_size=_typed(table, "test_size", 0.3, float, "model"),
        threshold=_typed(table, "threshold", 0.5, float, "model"),
        seed=_typed(table, "seed", 0, int, "model"),
        algorithm=algorithm,
        compare_raw=_typed(table, "compare_raw", True, bool, "model"),
        fraud=_fraud_columns(table.get("fraud")) if task is Task.FRAUD else None,
    )


def parse_spec(doc: Mapping[str, Any], *, base_dir: Path = Path()) -> JobSpec:
    """Validate a parsed TOML document into a :class:`JobSpec`.

    Args:
        doc: The TOML document as a mapping.
        base_dir: Directory that relative paths in the spec are resolved against.

    Returns:
        The validated spec.

    Raises:
        ConfigError: On a missing table, an unknown option or a bad value.
    """
    _check_keys(doc, "top level", {"name", "input", "pii", "model", "output", "tokenize"})
    input_table = _table(doc, "input", required=True)
    _check_keys(input_table, "input", {"path"})
    if "path" not in input_table:
        raise ConfigError("[input] path is required")
    _typed(input_table, "path", None, str, "input")
    pii = _table(doc, "pii", required=True)
    if not pii:
        raise ConfigError("[pii] must map at least one column to a kind")
    for column, kind in pii.items():
        if not isinstance(kind, str):
            raise ConfigError(f"[pii] column {column!r}: the kind must be a string")
    output = _table(doc, "output", required=False)
    _check_keys(output, "output", {"dir"})
    tokenize = _table(doc, "tokenize", required=False)
    _check_keys(tokenize, "tokenize", {"scheme", "batch_rows"})
    return JobSpec(
        name=_typed(doc, "name", "job", str, "top level"),
        input_path=(base_dir / input_table["path"]),
        pii=dict(pii),
        model=_model_spec(_table(doc, "model", required=True)),
        output_dir=base_dir / _typed(output, "dir", "out/job", str, "output"),
        scheme=_typed(tokenize, "scheme", "FF1", str, "tokenize"),
        batch_rows=_typed(tokenize, "batch_rows", 20_000, int, "tokenize"),
        raw=dict(doc),
    )


def load_spec(path: Path) -> JobSpec:
    """Read and validate a job spec TOML file.

    Raises:
        InputError: The file is missing or unreadable.
        ConfigError: The TOML is invalid or the spec does not validate.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read job spec {path}: {exc.strerror}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"job spec {path}: invalid TOML: {exc}") from None
    return parse_spec(doc, base_dir=path.parent)
