"""The Ray stages on a real local Ray: workers tokenize and score without a secret key."""

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

from engine.compliance import verify_manifest
from engine.datasets import DEMO_PII, german_credit_with_pii, simulate_transactions
from engine.errors import ConfigError
from engine.he import CKKSKeys, PublicContext
from engine.jobs import parse_spec, run_job
from engine.jobs._cluster import ClusterInfo, ray_cluster
from engine.jobs._score_ray import decrypt_scores, score_on_ray
from engine.jobs._tokenize_ray import tokenize_on_ray
from engine.keys import KeyMaterial, KeyRing
from engine.models import FraudModel, split_by_time
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
