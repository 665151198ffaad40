"""Discovery benchmark: precision/recall per kind on the labelled corpus, MB/s per core,
and Microsoft Presidio's pattern recognizers on the same corpus where Presidio is installed.

Run: ``.venv/bin/python benchmarks/bench_discovery.py [--scale N] [--presidio-python PATH]``.
Presidio's default NLP engine needs a spaCy model download (not possible here), so only its
pattern recognizers run (PAN, IBAN, SSN, email, phone); it has no DOB or labelled-name
recognizer without NER. They run in the interpreter given by ``--presidio-python`` (default:
this one), fed with one unit per text line, CSV cell and JSON leaf.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.discovery import scan
from engine.discovery._sources import scan_text_stream
from engine.discovery.pipeline import settings_for
from tests.engine.discovery.corpus import Corpus, Spot, build, score

KINDS = ("pan", "iban", "ssn", "email", "phone", "dob", "name")
SUBTREES = ("logs", "tickets", "exports", "api")


def finveil_spots(corpus: Corpus) -> list[Spot]:
    spots: list[Spot] = []
    for sub in SUBTREES:
        for f in scan(corpus.root / sub).findings:
            spots.append((f.source, f.kind.value, f.line, f.row, f.column, f.offset, f.length))
    return spots


def _leaves(obj: Any, path: str) -> Any:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, f"{path}[{i}]")
    elif isinstance(obj, str | int) and not isinstance(obj, bool):
        yield path, str(obj)


def units(corpus: Corpus) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for sub in SUBTREES:
        for path in sorted((corpus.root / sub).rglob("*")):
            src = str(path)
            if path.suffix in (".log", ".txt"):
                for i, line in enumerate(path.read_text().split("\n"), start=1):
                    out.append({"key": [src, i, None, None], "text": line})
            elif path.suffix == ".csv":
                with open(path, newline="") as fh:
                    for r, row in enumerate(csv.DictReader(fh)):
                        out.extend({"key": [src, None, r, c], "text": v} for c, v in row.items())
            elif path.suffix == ".jsonl":
                for r, line in enumerate(path.read_text().splitlines()):
                    for p, v in _leaves(json.loads(line), "$"):
                        out.append({"key": [src, None, r, p], "text": v})
    return out


def presidio(corpus: Corpus, python: str) -> tuple[list[Spot], float] | str:
    worker = Path(__file__).with_name("_presidio_worker.py")
    data = "".join(json.dumps(u) + "\n" for u in units(corpus))
    try:
        # Our worker script, run by the interpreter the user named.
        proc = subprocess.run(  # noqa: S603
            [python, str(worker)], input=data, capture_output=True, text=True, timeout=1800,
            check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not run ({type(exc).__name__})"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return f"not available ({last[:120]})"
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    stats = lines.pop()
    spots = [
        (r["key"][0], r["kind"], r["key"][1], r["key"][2], r["key"][3], r["offset"], r["length"])
        for r in lines
    ]
    return spots, stats["bytes"] / 1e6 / stats["seconds"]


def plain_log(rng: random.Random, target_bytes: int) -> bytes:
    """Application logs with the usual noise (timestamps, UUIDs, hex ids, paths, latencies)."""
    paths = ["/api/v1/accounts/{}/transactions?page={}&limit=50", "/health", "/api/v1/fx/rates",
             "/api/v2/payments/{}/status", "/static/app.{}.js"]  # fmt: skip
    ua = '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"'
    sql = '"SELECT * FROM tx WHERE account_id = $1"'
    out: list[str] = []
    size = 0
    t = 1_772_352_000
    while size < target_bytes:
        t += rng.randint(0, 3)
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{rng.randint(0, 999):03d}Z"
        kind = rng.randrange(3)
        if kind == 0:
            path = rng.choice(paths).format(f"{rng.getrandbits(128):032x}", rng.randint(1, 20))
            status = rng.choice([200, 200, 201, 304, 404, 500])
            line = (
                f"{ts} INFO http GET {path} {status} {rng.randint(1, 900)}ms "
                f"bytes={rng.randint(100, 90000)} ua={ua} "
                f"trace={rng.getrandbits(64):016x} span={rng.getrandbits(32):08x}"
            )
        elif kind == 1:
            line = (
                f"{ts} DEBUG db query took {rng.randint(1, 999) / 10}ms "
                f"rows={rng.randint(0, 500)} pool={rng.randint(1, 20)}/20 sql={sql}"
            )
        else:
            line = (
                f"{ts} WARN retry attempt={rng.randint(1, 5)} backoff_ms={rng.randint(100, 9000)} "
                f'upstream=payments-{rng.randint(1, 9)}:8443 error="connection reset by peer"'
            )
        out.append(line)
        size += len(line) + 1
    return ("\n".join(out) + "\n").encode()


def _export_row(rng: random.Random, t: int) -> dict[str, Any]:
    """One transaction of a realistic export: ids, times, amounts, codes, masked cards."""
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + "Z"
    merchants = ["Acme Hardware Store", "Blue Bottle Coffee", "Global Travel Group",
                 "City Parking Ltd", "Nordic Grocers AB", "Online Books GmbH"]  # fmt: skip
    return {
        "txn_id": f"{rng.getrandbits(128):032x}",
        "created_at": ts,
        "settled_ms": str(t * 1000 + rng.randint(0, 999)),
        "account_token": "fvid_" + "".join(rng.choices(_B64, k=44)),
        "amount": f"{rng.randint(1, 500000) / 100:.2f}",
        "currency": rng.choice(["EUR", "USD", "GBP", "CHF"]),
        "status": rng.choice(["settled", "pending", "declined", "refunded"]),
        "merchant_name": rng.choice(merchants),
        "mcc": str(rng.choice([5411, 5812, 4121, 5999, 7011])),
        "card": f"{rng.choice(['411111', '555555', '378282'])}******{rng.randint(0, 9999):04d}",
        "order_no": f"ORD-{rng.randint(10**9, 10**10 - 1)}",
        "country": rng.choice(["DE", "FR", "NL", "US", "GB"]),
        "latency_ms": str(rng.randint(5, 900)),
    }


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def export_files(root: Path, target_bytes: int) -> dict[str, Path]:
    """A CSV export and a JSON-lines API export of transactions (no PII), ~target_bytes each."""
    rng = random.Random(2)  # noqa: S311 - reproducible sampling, not crypto
    rows: list[dict[str, Any]] = []
    size, t = 0, 1_772_352_000
    while size < target_bytes:
        t += rng.randint(0, 5)
        rows.append(_export_row(rng, t))
        size += sum(len(v) + 1 for v in rows[-1].values())
    csv_path, json_path = root / "transactions.csv", root / "events.jsonl"
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(json_path, "w") as fh:
        for row in rows[: len(rows) * 2 // 3]:
            doc = {"id": row["txn_id"], "ts": row["created_at"], "type": "payment",
                   "payment": {k: row[k] for k in ("amount", "currency", "status", "card")},
                   "merchant": {"name": row["merchant_name"], "mcc": row["mcc"]},
                   "refs": {"order": row["order_no"], "token": row["account_token"]},
                   "timing": {"settled_ms": int(row["settled_ms"]),
                              "latency_ms": int(row["latency_ms"])}}  # fmt: skip
            fh.write(json.dumps(doc) + "\n")
    return {"CSV export (transactions, no PII)": csv_path,
            "JSON-lines API events (no PII)": json_path}  # fmt: skip


def speed_texts(corpus: Corpus, target_bytes: int) -> dict[str, bytes]:
    """Text bodies for MB/s: sparse logs (2% of lines carry PII), dense logs, tickets."""
    rng = random.Random(1)  # noqa: S311 - reproducible sampling, not crypto
    log = corpus.root / "logs" / "payments.log"
    dirty = {lab.line for lab in corpus.labels if lab.source == str(log)}
    lines = log.read_text().split("\n")
    clean = [x for i, x in enumerate(lines, 1) if i not in dirty and x]
    bad = [x for i, x in enumerate(lines, 1) if i in dirty]
    sparse: list[str] = []
    size = 0
    while size < target_bytes:
        line = rng.choice(bad) if rng.random() < 0.02 else rng.choice(clean)
        sparse.append(line)
        size += len(line) + 1
    dense = log.read_bytes()
    tickets = (corpus.root / "tickets" / "support.txt").read_bytes()
    return {
        "application logs, no PII": plain_log(rng, target_bytes),
        "near-miss logs, 2% lines with PII": ("\n".join(sparse) + "\n").encode(),
        "logs, every line PII or near miss": dense * max(1, target_bytes // len(dense)),
        "support tickets (prose)": tickets * max(1, target_bytes // len(tickets)),
    }


def mb_per_s(data: bytes) -> tuple[float, float]:
    """Return (wall, CPU) MB/s of the text scanner over ``data`` (4 MiB chunks)."""
    settings = settings_for()
    chunks = [data[i : i + (4 << 20)] for i in range(0, len(data), 4 << 20)]
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in scan_text_stream(chunks, settings, source="bench"):
        pass
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(data) / 1e6 / wall, len(data) / 1e6 / cpu


def file_mb_per_s(path: Path) -> tuple[float, float]:
    """Return (wall, CPU) MB/s of ``scan(path)`` (reading and parsing included)."""
    size = path.stat().st_size
    wall, cpu = time.perf_counter(), time.process_time()
    scan(path)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return size / 1e6 / wall, size / 1e6 / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--mb", type=int, default=16, help="MB of text per speed test")
    parser.add_argument("--presidio-python", default=sys.executable)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = build(Path(tmp), scale=args.scale)
        print(f"corpus: {len(corpus.labels)} planted identifiers; near misses: "
              + ", ".join(f"{k}={v}" for k, v in sorted(corpus.near_misses.items())))  # fmt: skip
        ours = score(corpus.labels, finveil_spots(corpus))
        theirs = presidio(corpus, args.presidio_python)
        print("\nkind    FinVeil P  FinVeil R   Presidio P  Presidio R  (labels)")
        for kind in KINDS:
            sc = ours[kind]
            if isinstance(theirs, str):
                other = "        n/a         n/a"
            else:
                ps = score(corpus.labels, theirs[0]).get(kind)
                supported = kind not in ("dob", "name")
                other = (f"{ps.precision:11.3f} {ps.recall:11.3f}" if ps and supported
                         else "   no recognizer w/o NER")  # fmt: skip
            print(f"{kind:6} {sc.precision:10.3f} {sc.recall:10.3f}  {other}  ({sc.tp + sc.fn})")
        if isinstance(theirs, str):
            print(f"\nPresidio: {theirs}")
        else:
            print(f"\nPresidio pattern recognizers: {theirs[1]:.2f} MB/s on the same units")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"\nspeed (one core; wall and CPU time; load average {load:.2f}):")
        for name, data in speed_texts(corpus, args.mb << 20).items():
            wall, cpu = mb_per_s(data)
            print(f"  {name:38} {len(data) / 1e6:6.1f} MB  {wall:7.1f} MB/s wall "
                  f"{cpu:7.1f} MB/s CPU")  # fmt: skip
        for name, path in export_files(Path(tmp), args.mb << 20).items():
            wall, cpu = file_mb_per_s(path)
            print(f"  {name:38} {path.stat().st_size / 1e6:6.1f} MB  {wall:7.1f} MB/s wall "
                  f"{cpu:7.1f} MB/s CPU")  # fmt: skip


if __name__ == "__main__":
    main()
