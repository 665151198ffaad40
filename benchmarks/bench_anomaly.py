"""Anomaly detection on key use: detection and false-alert rates on simulated traffic.

Usage::

    python benchmarks/bench_anomaly.py [--seeds 0 1 2 3] [--principals 36]
                                       [--json benchmarks/results/anomaly.json]

For each seed: simulate normal traffic and attack episodes, write nothing but the audit
entries the gate would write, fit the detector on the attack-free baseline period, assess
the test period, and count per (principal, window): attack windows (containing an attack
request) against normal ones. An episode is detected when any of its windows is flagged
(alert or block). "clean" normal windows exclude the 7 days after an attack on the same
principal, whose trailing features still carry the attack.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter
from pathlib import Path
from typing import Any

from engine.keys.anomaly import AnomalyDetector, Level, Simulation, simulate_usage

RESULTS = Path(__file__).resolve().parent / "results" / "anomaly.json"
WEEK_WINDOWS = 7 * 24


def evaluate(sim: Simulation, detector: AnomalyDetector) -> dict[str, Any]:
    entries = sim.entries()
    window_s = detector.options.window_s
    train = [e for e, ev in zip(entries, sim.events, strict=True) if ev.when < sim.train_until]
    t0 = time.perf_counter()
    detector.fit(train)
    t1 = time.perf_counter()
    verdicts = detector.assess(entries, since=sim.train_until)
    t2 = time.perf_counter()
    episodes_at: dict[tuple[str, int], set[int]] = {}
    tainted: set[tuple[str, int]] = set()
    for ev in sim.events:
        if ev.episode is not None:
            slot = int(ev.when.timestamp() // window_s)
            episodes_at.setdefault((ev.request.principal, slot), set()).add(ev.episode)
            tainted.update((ev.request.principal, slot + k) for k in range(WEEK_WINDOWS + 1))
    table: Counter[str] = Counter()
    detected: set[int] = set()
    for v in verdicts:
        key = (v.principal, int(v.window_start.timestamp() // window_s))
        flagged = v.level is not Level.ALLOW
        label = "attack" if key in episodes_at else "normal"
        table[f"{label}/{v.level.value}"] += 1
        if label == "attack" and flagged:
            detected |= episodes_at[key]
        if label == "normal" and key not in tainted:
            table[f"clean/{'flagged' if flagged else 'allow'}"] += 1
    per_kind: dict[str, list[int]] = {}
    for ep in sim.episodes:
        hit = per_kind.setdefault(ep.attack.value, [0, 0])
        hit[0] += ep.index in detected
        hit[1] += 1
    normal = sum(table[f"normal/{lv.value}"] for lv in Level)
    clean = table["clean/flagged"] + table["clean/allow"]
    attack = sum(table[f"attack/{lv.value}"] for lv in Level)
    return {
        "events": len(entries),
        "confusion": dict(sorted(table.items())),
        "episodes_detected": len(detected),
        "episodes": len(sim.episodes),
        "detection_rate": len(detected) / max(1, len(sim.episodes)),
        "per_attack": {k: {"detected": a, "episodes": b} for k, (a, b) in per_kind.items()},
        "attack_window_recall": (attack - table["attack/allow"]) / max(1, attack),
        "false_alert_rate_clean": table["clean/flagged"] / max(1, clean),
        "false_alert_rate_all_normal": (normal - table["normal/allow"]) / max(1, normal),
        "fit_s": round(t1 - t0, 3),
        "assess_s": round(t2 - t1, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(8)))
    parser.add_argument("--principals", type=int, default=36)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    runs = {}
    for seed in args.seeds:
        sim = simulate_usage(seed, principals=args.principals)
        result = evaluate(sim, AnomalyDetector())
        runs[str(seed)] = result
        c = result["confusion"]
        print(
            f"seed {seed}: {result['events']} requests, episodes detected "
            f"{result['episodes_detected']}/{result['episodes']}, false alerts (clean) "
            f"{c.get('clean/flagged', 0)}/{c.get('clean/flagged', 0) + c.get('clean/allow', 0)}"
            f" = {100 * result['false_alert_rate_clean']:.2f}%"
        )
        print(f"  {'':8} {'allow':>7} {'alert':>7} {'block':>7}")
        for label in ("attack", "normal"):
            cells = "".join(f"{c.get(f'{label}/{lv.value}', 0):>8}" for lv in Level)
            print(f"  {label:8}{cells}")
        print(
            "  per attack:",
            {k: f"{v['detected']}/{v['episodes']}" for k, v in result["per_attack"].items()},
        )
    total_ep = sum(r["episodes"] for r in runs.values())
    total_det = sum(r["episodes_detected"] for r in runs.values())
    clean_fp = sum(r["confusion"].get("clean/flagged", 0) for r in runs.values())
    clean_n = clean_fp + sum(r["confusion"].get("clean/allow", 0) for r in runs.values())
    summary = {
        "detection_rate": total_det / max(1, total_ep),
        "false_alert_rate_clean": clean_fp / max(1, clean_n),
    }
    print(
        f"all seeds: episodes {total_det}/{total_ep} = {100 * summary['detection_rate']:.1f}%,"
        f" false alerts {clean_fp}/{clean_n} = {100 * summary['false_alert_rate_clean']:.2f}%"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "machine": {"python": platform.python_version(), "platform": platform.platform()},
                "principals": args.principals,
                "summary": summary,
                "runs": runs,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
