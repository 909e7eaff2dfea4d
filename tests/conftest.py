"""Shared fixtures. OpenMP must not busy-wait on these small machines (set before sklearn)."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "audits" / "specs"
CREDIT = ROOT / "models_under_test" / "credit_scoring"


#: What MLflow leaves in the working folder when a test logs with its defaults.
STRAYS = ("mlruns", "mlflow.db")


@pytest.fixture(scope="session")
def _strays_before():
    """The MLflow folders and stores in the repository's root before any test ran (and, once
    blamed, those a test left); at the session's end, one left by a fixture's teardown
    fails the session."""
    known = {name for name in STRAYS if (ROOT / name).exists()}
    yield known
    new = [n for n in STRAYS if n not in known and (ROOT / n).exists()]
    if new:
        pytest.fail(f"the test session left {', '.join(new)} in {ROOT}", pytrace=False)


@pytest.fixture(autouse=True)
def _no_mlflow_strays_in_the_repository(_strays_before: set[str]):
    """Fail the test after which ``mlruns`` or ``mlflow.db`` appeared in the repository's root
    (a test logging with MLflow's default artifact location or store); what was there before
    the session is not blamed, and a stray is blamed on the first test that left it only."""
    yield
    new = [n for n in STRAYS if n not in _strays_before and (ROOT / n).exists()]
    if new:
        _strays_before.update(new)
        pytest.fail(
            f"this test left {', '.join(new)} in the repository's root {ROOT}: log to a "
            "store and artifact location under tmp_path",
            pytrace=False,
        )


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the repository root, where spec paths resolve."""
    monkeypatch.chdir(ROOT)
    return ROOT


@pytest.fixture
def write_spec(tmp_path: Path):
    """Write a spec mapping to a YAML file and return its path."""

    def write(spec: dict, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def fairgate(capsys: pytest.CaptureFixture[str]):
    """Call the CLI in-process; return (exit code, stdout, stderr)."""
    from audits.cli import main

    def call(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def policy_inlined(spec: dict, *, keep_others: bool = False) -> dict:
    """A reference spec with the municipal-microcredit policy's checks written out in its
    ``checks`` (as the credit specs read before policies), so that a test can pick or change
    them; its other policies are dropped unless ``keep_others``."""
    from audits._policy_files import load_policy

    policies = spec.get("policy") or []
    policies = [policies] if isinstance(policies, str) else list(policies)
    inlined = []
    if "municipal-microcredit" in policies:
        policy = load_policy("municipal-microcredit").policy
        inlined = [dict(check) for clause in policy.clauses for check in clause.checks]
    spec["checks"] = inlined + list(spec.get("checks") or [])
    others = [p for p in policies if p != "municipal-microcredit"]
    spec["policy"] = others if keep_others else []
    return spec


def credit_validation_spec(path: Path, **data) -> dict:
    """A spec auditing the credit v2 model on the data at ``path``, with ``data`` keys added
    (the data-validation tests' spec)."""
    return {
        "name": "validation",
        "model": {
            "kind": "sklearn",
            "uri": str(CREDIT / "v2" / "model.skops"),
            "trusted_types": ["sklearn.tree._tree.Tree", "sklearn.utils._bunch.Bunch"],
        },
        "data": {
            "path": str(path),
            "label": "good_credit",
            "sensitive": ["sex", "age_band"],
            "label_values": [0, 1],
            **data,
        },
        "checks": [{"metric": "selection_rate", "disparity": "ratio", "min": 0.8}],
    }
