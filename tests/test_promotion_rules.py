"""Promotion rules against a real MLflow tracking server: version tags namespaced per spec, the
newest audit of each required spec taken as current, on the exact files of the version."""

from __future__ import annotations

import datetime as dt

import pytest
import skops.io as sio
import yaml

from .conftest import CREDIT, SPECS, policy_inlined
from .servers import start_tracking_server, stop

NAME = "credit-promotion"
TRUSTED_TYPES = ["sklearn.tree._tree.Tree", "sklearn.utils._bunch.Bunch"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url, proc = start_tracking_server(tmp_path_factory.mktemp("mlflow-promotion"))
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def registry(server):
    """Versions 1 (the remediated credit model, v2) and 2 (the naive one, v1)."""
    import mlflow.sklearn
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(server)
    try:
        for version in ("v2", "v1"):
            path = CREDIT / version / "model.skops"
            with mlflow.start_run(run_name=f"register {version}"):
                mlflow.sklearn.log_model(
                    sio.load(path, trusted=sio.get_untrusted_types(file=path)),
                    name="model",
                    registered_model_name=NAME,
                    serialization_format="skops",
                    skops_trusted_types=sio.get_untrusted_types(file=path),
                )
    finally:
        mlflow.set_tracking_uri(None)
    return MlflowClient(tracking_uri=server)


def _spec(write_spec, name: str, bound: float, version: str = "1", gap: float = 0.10, **more):
    """The credit fairness checks (no explanations: fast) with the selection-rate bound and
    the largest false-negative-rate gap."""
    spec = policy_inlined(yaml.safe_load((SPECS / "credit_scoring_v1.yaml").read_text()))
    spec["name"], spec["experiment"] = name, "credit-promotion"
    spec["checks"] = [c for c in spec["checks"] if "metric" in c]
    spec["checks"][0]["min"], spec["checks"][1]["max"] = bound, gap
    spec["model"] = {"kind": "mlflow", "uri": f"models:/{NAME}/{version}"}
    spec["model"]["trusted_types"] = TRUSTED_TYPES
    spec.update(more)
    return write_spec(spec, f"{name}.yaml")


def _run(fairgate, server, tmp_path, spec, *extra):
    out = tmp_path / f"o{len(list(tmp_path.glob('o*')))}"
    return fairgate("run", spec, "--tracking-uri", server, "-q", "--out", out, *extra)


def test_a_lenient_spec_cannot_promote_over_a_strict_fail(
    registry, server, write_spec, fairgate, in_repo, tmp_path
):
    strict, lenient = _spec(write_spec, "strict", 0.99), _spec(write_spec, "lenient", 0.8)
    code, _, err = _run(fairgate, server, tmp_path, strict)
    assert code == 1, err  # version 1's selection-rate ratios are about 0.9: under 0.99
    tags = registry.get_model_version(NAME, "1").tags
    assert tags["fairgate.strict.verdict"] == "fail" and tags["fairgate.strict.exit_code"] == "1"
    assert tags["fairgate.strict.model_sha256"] == tags["fairgate.model_sha256"]
    assert registry.get_run(tags["fairgate.strict.run_id"]).data.tags["fairgate.verdict"] == "fail"

    # Without rules, every spec that audited the version must pass: the strict fail blocks.
    code, _, err = _run(fairgate, server, tmp_path, lenient, "--promote", "production")
    assert code == 2, err
    assert "strict's newest audit" in err and "is 'fail'" in err
    assert not registry.get_registered_model(NAME).aliases  # no alias moved
    tags = registry.get_model_version(NAME, "1").tags
    assert tags["fairgate.strict.verdict"] == "fail"  # the lenient audit did not overwrite it
    assert "fairgate.promoted_to" not in tags

    # With rules naming both, the same; with rules naming only the lenient spec, it moves.
    both = tmp_path / "fairgate.toml"
    both.write_text('[promotion]\nrequire = ["strict", "lenient"]\n')
    code, _, err = _run(
        fairgate, server, tmp_path, lenient, "--promote", "production", "--promotion-rules", both
    )
    assert code == 2 and "the promotion rules of" in err and "strict" in err, err
    assert not registry.get_registered_model(NAME).aliases

    # The strict spec audited again, its failure now under a signed-off waiver: its newest
    # audit (pass_with_waivers) vouches for the version, and MLflow holds the waiver.
    today = dt.datetime.now(dt.UTC).date()
    waiver = {
        "check": 0,
        "reason": "Ratios of 0.9 accepted by the committee until the 2027 review of the bound.",
        "approver": "Maria Jensen",
        "date": (today - dt.timedelta(days=1)).isoformat(),
        "expiry": (today + dt.timedelta(days=30)).isoformat(),
        "ticket": "ETH-7",
    }
    strict = _spec(write_spec, "strict", 0.99, waivers=[waiver])
    code, out, err = _run(fairgate, server, tmp_path, strict)
    assert code == 0 and "pass_with_waivers" in out, err
    tags = registry.get_model_version(NAME, "1").tags
    assert tags["fairgate.strict.verdict"] == "pass_with_waivers"
    run_tags = registry.get_run(tags["fairgate.strict.run_id"]).data.tags
    assert run_tags["fairgate.waivers"] == "1 applied"
    assert run_tags["fairgate.waiver.0"].startswith("applied: checks[0] selection_rate ratio")
    assert "Maria Jensen" in run_tags["fairgate.waiver.0"]
    code, _, err = _run(
        fairgate, server, tmp_path, lenient, "--promote", "production", "--promotion-rules", both
    )
    assert code == 0, err
    assert registry.get_model_version_by_alias(NAME, "production").version == "1"
    tags = registry.get_model_version(NAME, "1").tags
    assert tags["fairgate.lenient.verdict"] == "pass"
    assert tags["fairgate.promoted_to"] == "production"


def test_tags_copied_from_another_version_do_not_promote(
    registry, server, write_spec, fairgate, in_repo, tmp_path
):
    # Someone copies version 1's passing strict tags onto version 2 (other files).
    source = registry.get_model_version(NAME, "1").tags
    for key, value in source.items():
        if key.startswith("fairgate.strict."):
            registry.set_model_version_tag(NAME, "2", key, value)
    rules = tmp_path / "pyproject.toml"
    rules.write_text(
        '[project]\nname = "x"\n\n[tool.fairgate.promotion]\nrequire = ["strict"]\n'
        '[tool.fairgate.promotion.aliases.canary]\nrequire = ["strict", "lenient"]\n'
    )
    lenient = _spec(write_spec, "lenient", 0.5, version="2", gap=0.3)  # v1 passes this
    code, _, err = _run(
        fairgate, server, tmp_path, lenient, "--promote", "canary", "--promotion-rules", rules
    )
    assert code == 2, err
    assert "strict's newest audit" in err and "audited other files" in err
    assert "canary" not in registry.get_registered_model(NAME).aliases


def test_promotion_rules_that_cannot_be_read_are_a_usage_error(
    registry, server, write_spec, fairgate, in_repo, tmp_path
):
    lenient = _spec(write_spec, "lenient", 0.8)
    for text, says in [
        ("[promotion]\nrequire = []\n", "must name the audits"),
        ('[promotion]\nrequire = ["Not A Spec"]\n', "invalid promotion rules"),
        ("[other]\n", "holds no promotion rules"),
        ("[promotion\n", "cannot be read as TOML"),
    ]:
        path = tmp_path / "rules.toml"
        path.write_text(text)
        code, _, err = _run(
            fairgate, server, tmp_path, lenient, "--promote", "x", "--promotion-rules", path
        )
        assert code == 4 and says in err, err
    code, _, err = _run(fairgate, server, tmp_path, lenient, "--promotion-rules", path)
    assert code == 4 and "applies to --promote" in err


def test_policies_named_by_a_rule_must_be_the_ones_applied():
    from audits._promotion import applies, policies_of

    doc = {
        "spec": {"policy": ["eeoc-uniform-guidelines"]},
        "provenance": {"policies": [{"name": "nyc-ll144", "version": "2023.1"}]},
    }
    found = policies_of(doc)
    assert found == ["eeoc-uniform-guidelines", "nyc-ll144@2023.1"]
    assert applies("nyc-ll144", found) and applies("nyc-ll144@2023.1", found)
    assert not applies("nyc-ll144@2024.1", found) and not applies("eu-ai-act", found)
