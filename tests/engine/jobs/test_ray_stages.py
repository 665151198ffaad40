"""The Ray stages on a real local Ray: workers tokenize and score without a secret key."""

import json
import secrets
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import ray
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from engine.compliance import verify_manifest
from engine.datasets import DEMO_PII, german_credit_with_pii, simulate_transactions
from engine.errors import ConfigError, InputError
from engine.he import CKKSKeys, PublicContext
from engine.jobs import parse_spec, ray_aggregate, run_job
from engine.jobs._cluster import ClusterInfo, ray_cluster
from engine.jobs._score_ray import decrypt_scores, score_on_ray
from engine.jobs._tokenize_ray import tokenize_on_ray
from engine.jobs._validate import resolve_columns
from engine.keys import KeyMaterial, KeyRing
from engine.models import FraudModel, Scorecard, compute_fraud_features, split_by_time
from engine.tokenize import FormatOptions, Kind, tokenize_frame

pytestmark = pytest.mark.ray

KEYS = {
    Kind(kind): KeyMaterial(key_id=f"tokenize.{kind}", version=1, secret=secrets.token_bytes(32))
    for kind in DEMO_PII.values()
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterInfo]:
    with ray_cluster() as info:
        yield info


@ray.remote
def _worker_view(context: bytes) -> tuple[bool, bool]:
    public = PublicContext.from_bytes(context)
    return public.has_secret_key, public.has_galois_keys


def test_tokenize_on_ray_equals_in_process(cluster: ClusterInfo) -> None:
    frame = german_credit_with_pii()
    tokens, quarantine = tokenize_on_ray(
        frame, DEMO_PII, KEYS, scheme="FF1", batch_rows=300, workers=cluster.cpus
    )
    local = tokenize_frame(frame[list(DEMO_PII)], DEMO_PII, KEYS, options=FormatOptions())
    assert tokens.index.tolist() == local.frame.index.tolist()
    pd.testing.assert_frame_equal(
        tokens.astype(str),
        local.frame[list(DEMO_PII)].astype(str).rename_axis("row"),
        check_dtype=False,
    )
    assert sorted(quarantine.index) == sorted(set(local.quarantine["row"]))
    assert len(tokens) + len(quarantine) == len(frame)


def test_workers_score_with_the_public_context_only(cluster: ClusterInfo) -> None:
    keys = CKKSKeys.generate()
    public = keys.public_context()
    assert ray.get(_worker_view.remote(public.to_bytes())) == (False, False)
    rng = np.random.default_rng(7)
    features = rng.normal(size=(9000, 5))
    weights, intercept = rng.normal(size=5), -0.3
    blobs = score_on_ray(
        features, public, weights=weights, intercept=intercept, chunk_rows=public.slot_count
    )
    assert len(blobs) == 3
    margins = decrypt_scores(blobs, keys)
    np.testing.assert_allclose(margins, features @ weights + intercept, atol=1e-6)
    with pytest.raises(TypeError):
        ray.put(keys)  # the secret key cannot be shipped to a worker, even by mistake


def test_rerun_into_the_same_directory_releases_the_old_datasets_keys(
    cluster: ClusterInfo, tmp_path: Path
) -> None:
    keyring, _ = KeyRing.open_default(tmp_path / "home" / "keyring.json")
    text = resources.files("engine.datasets").joinpath("data/demo_job.toml").read_text()
    spec = parse_spec(tomllib.loads(text), base_dir=tmp_path)
    frame = german_credit_with_pii()
    first = run_job(spec, keyring=keyring, frame=frame)
    second = run_job(spec, keyring=keyring, frame=frame)
    assert first.output_dir == second.output_dir
    assert keyring.datasets_using("tokenize.pan", 1) == [second.manifest["job"]["id"]]
    assert verify_manifest(second.output_dir / "manifest.json").predicate["rows"]["in"] == 1000


def test_fraud_task_on_simulated_transactions(cluster: ClusterInfo, tmp_path: Path) -> None:
    frame = simulate_transactions(100_000, seed=3)
    pii = {"card_number": "pan", "cardholder_name": "name", "email": "email", "iban": "iban",
           "phone": "phone", "terminal_id": "id"}  # fmt: skip
    spec = parse_spec(
        {
            "input": {"path": "transactions.parquet"},
            "pii": pii,
            "model": {"task": "fraud", "label": "is_fraud"},
            "output": {"dir": "out"},
        },
        base_dir=tmp_path,
    )
    keyring, _ = KeyRing.open_default(tmp_path / "home" / "keyring.json")
    result = run_job(spec, keyring=keyring, frame=frame.drop(columns=["fraud_scenario"]))
    model = result.manifest["model"]
    assert result.manifest["rows"]["reconciled"] is True
    assert model["n_test"] > 1000
    assert abs(model["auc_plaintext"] - model["auc_encrypted"]) < 1e-4
    # Features over tokens equal features over raw card numbers: the same model, fitted on
    # the raw frame outside the job, gets the same AUC.
    raw = FraudModel()
    features = raw.features(frame)
    train, test = split_by_time(frame)
    raw.fit(features.loc[train], frame.loc[train, "is_fraud"].astype(int))
    expected = roc_auc_score(
        frame.loc[test, "is_fraud"].astype(int), raw.predict_proba(features.loc[test])
    )
    assert model["auc_plaintext"] == pytest.approx(expected, abs=1e-6)
    assert model["auc_plaintext"] > 0.7
    assert abs(model["average_precision_plaintext"] - model["average_precision_encrypted"]) < 1e-3
    assert any(name.startswith("card_count_") for name in model["features"])
    assert set(pd.read_parquet(result.output_dir / "scores.parquet")["decision"]) <= {
        "allow", "flag"}  # fmt: skip
    # The evaluation report in the output: raw identifiers vs tokens vs encrypted inference.
    report = json.loads((result.output_dir / "report.json").read_text())
    rows = {(r["model"], r["variant"]): r for r in report["rows"]}
    assert list(rows) == [("logistic", "raw"), ("logistic", "tokens"),
                          ("logistic", "encrypted"), ("boosting", "tokens")]  # fmt: skip
    tokens = rows["logistic", "tokens"]
    assert tokens["auc_roc"] == pytest.approx(expected, abs=1e-9)
    assert rows["logistic", "raw"]["max_abs_score_diff"] < 1e-9
    for metric in ("auc_roc", "average_precision", "card_precision_at_k"):
        assert rows["logistic", "raw"][metric] == pytest.approx(tokens[metric], abs=1e-9)
        assert round(rows["logistic", "encrypted"][metric], 4) == round(tokens[metric], 4)
    assert rows["boosting", "tokens"]["auc_roc"] > 0.7
    assert report["info"]["k"] == 100
    assert report["info"]["n_test"] == model["n_test"]
    assert model["evaluation"] == report["rows"]
    assert "logistic  encrypted" in (result.output_dir / "report.txt").read_text()
    for plot in ("roc.png", "precision_recall.png"):
        assert (result.output_dir / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    verify_manifest(result.output_dir / "manifest.json")


def test_fraud_features_on_ray_equal_one_process(cluster: ClusterInfo) -> None:
    frame = simulate_transactions(20_000, seed=4)
    expected = compute_fraud_features(frame)
    for partitions in (1, 2, 3, 7):
        aggregate = ray_aggregate(partitions, min_rows=0)
        pd.testing.assert_frame_equal(compute_fraud_features(frame, aggregate=aggregate), expected)
    with pytest.raises(ValueError, match="partitions"):
        ray_aggregate(0)


def test_credit_scorecard_job_matches_scikit_learn_and_scores_points(
    cluster: ClusterInfo, tmp_path: Path
) -> None:
    frame = german_credit_with_pii()
    text = resources.files("engine.datasets").joinpath("data/demo_job.toml").read_text()
    doc = tomllib.loads(text)
    doc["model"] = {**doc["model"], "algorithm": "scorecard"}
    spec = parse_spec(doc, base_dir=tmp_path)
    keyring, _ = KeyRing.open_default(tmp_path / "home" / "keyring.json")
    result = run_job(spec, keyring=keyring, frame=frame, output_dir=tmp_path / "out")
    model = result.manifest["model"]
    assert model["algorithm"] == "scorecard"
    report = json.loads((result.output_dir / "report.json").read_text())
    rows = {(r["model"], r["variant"]): r for r in report["rows"]}
    assert list(rows) == [("scorecard", "raw"), ("scorecard", "tokens"), ("scorecard", "encrypted")]
    assert round(rows["scorecard", "encrypted"]["auc_roc"], 4) == round(model["auc_plaintext"], 4)
    assert rows["scorecard", "encrypted"]["ks"] == pytest.approx(
        rows["scorecard", "tokens"]["ks"], abs=1e-3
    )
    # An independent scorecard on the raw rows and the same split gets the same AUC.
    kept = pd.read_parquet(result.output_dir / "tokenized.parquet")["row"].to_numpy()
    raw = frame.loc[kept]
    y = (raw[spec.model.label].astype(str) == str(spec.model.positive)).to_numpy(dtype=int)
    train, test = train_test_split(np.arange(len(raw)), test_size=spec.model.test_size,
                                   random_state=spec.model.seed, stratify=y)  # fmt: skip
    columns = resolve_columns(frame, spec)
    card = Scorecard(numeric=columns.numeric, categorical=columns.categorical)
    card.fit(raw.iloc[train], y[train])
    expected = roc_auc_score(y[test], card.predict_proba(raw.iloc[test]))
    assert model["auc_plaintext"] == pytest.approx(expected, abs=1e-6)
    # Points: higher risk, fewer points; the scale is the scorecard's (600 at 50:1, PDO 20).
    scores = pd.read_parquet(result.output_dir / "scores.parquet")
    order = np.argsort(scores["score"].to_numpy())
    assert np.all(np.diff(scores["points"].to_numpy()[order]) <= 0.1)
    assert 300 < scores["points"].median() < 900


def test_fraud_card_column_must_be_tokenized(cluster: ClusterInfo, tmp_path: Path) -> None:
    frame = simulate_transactions(2_000, seed=3)
    spec = parse_spec(
        {"input": {"path": "t.parquet"}, "pii": {"email": "email"},
         "model": {"task": "fraud", "label": "is_fraud"}},
        base_dir=tmp_path,
    )  # fmt: skip
    keyring, _ = KeyRing.open_default(tmp_path / "home" / "keyring.json")
    with pytest.raises(ConfigError, match="must be listed in \\[pii\\]"):
        run_job(spec, keyring=keyring, frame=frame)


def test_report_without_raw_comparison_or_baseline(cluster: ClusterInfo, tmp_path: Path) -> None:
    frame = simulate_transactions(20_000, seed=6).drop(columns=["fraud_scenario"])
    fraud = {"baseline": False, "test_days": 40, "delay_days": 2, "k": 10}
    model = {"task": "fraud", "label": "is_fraud", "compare_raw": False, "fraud": fraud}
    doc = {"input": {"path": "t.parquet"}, "pii": {"card_number": "pan"}, "model": model}
    keyring, _ = KeyRing.open_default(tmp_path / "home" / "keyring.json")
    spec = parse_spec(doc, base_dir=tmp_path)
    result = run_job(spec, keyring=keyring, frame=frame, output_dir=tmp_path / "out")
    report = json.loads((result.output_dir / "report.json").read_text())
    assert [(r["model"], r["variant"]) for r in report["rows"]] == [
        ("logistic", "tokens"), ("logistic", "encrypted")]  # fmt: skip
    assert (report["info"]["test_days"], report["info"]["delay_days"], report["info"]["k"]) == (
        40, 2, 10)  # fmt: skip
    # A test window without a single fraud: a clear error, and no output directory.
    fraud["test_days"] = 1
    spec = parse_spec(doc, base_dir=tmp_path)
    with pytest.raises(InputError, match="holds only one class of 'is_fraud'"):
        run_job(spec, keyring=keyring, frame=frame, output_dir=tmp_path / "none")
    assert not (tmp_path / "none").exists()


def test_credit_label_with_a_single_event_is_a_clear_error(
    cluster: ClusterInfo, tmp_path: Path
) -> None:
    frame = german_credit_with_pii().head(300)
    frame["creditability"] = np.where(np.arange(300) == 7, "bad", "good")
    text = resources.files("engine.datasets").joinpath("data/demo_job.toml").read_text()
    spec = parse_spec(tomllib.loads(text), base_dir=tmp_path)
    keyring, _ = KeyRing.open_default(tmp_path / "home" / "keyring.json")
    with pytest.raises(InputError, match="1 row\\(s\\) of the rarer class"):
        run_job(spec, keyring=keyring, frame=frame, output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
