"""Policies as code: shipped policies end to end through the CLI (EEOC four-fifths rule with
its significance test, NYC Local Law 144 impact ratios and disclosure table, the EU AI Act's
prohibited use), merging rules (a spec may not loosen a policy), and the listings."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from audits import ExitCode, SpecError, Status, Verdict, derive_verdict, parse_spec
from audits._document import contradictions, verdict_of
from audits._policy_files import load_policy
from reports import WITHHELD

ROOT = Path(__file__).resolve().parents[1]


def _log(path: Path, cells: list[tuple[dict, int, int]]) -> Path:
    """A decision log: for each (attributes, n, selected), n rows of which ``selected`` were
    selected (decision 1)."""
    rows = []
    for attrs, n, selected in cells:
        rows += [
            {**attrs, "decision": int(i < selected), "outcome": int(i < selected)} for i in range(n)
        ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _spec(data: Path, policy, sensitive: list[str], **extra) -> dict:
    return {
        "name": "policy-fixture",
        "policy": policy,
        "model": {"kind": "predictions", "column": "decision"},
        "data": {
            "path": str(data),
            "label": "outcome",
            "sensitive": sensitive,
            "label_values": [0, 1],
            "missing_sensitive": "error",
        },
        **extra,
    }


def _run(fairgate, spec_path: Path, out: Path) -> tuple[int, dict, str]:
    code, stdout, stderr = fairgate("run", spec_path, "--out", out, "--no-mlflow", "-q")
    return code, json.loads((out / "results.json").read_text()), stdout + stderr


def test_four_fifths_worked_example_fails_and_cites_its_clause(tmp_path, write_spec, fairgate):
    """29 CFR 1607.4(D)'s example: 48 of 80 selected against 12 of 40 (60% vs 30%): the
    impact ratio is 0.50, under four fifths and significant: flagged and blocking."""
    data = _log(tmp_path / "log.csv", [({"sex": "men"}, 80, 48), ({"sex": "women"}, 40, 12)])
    spec = write_spec(_spec(data, "eeoc-uniform-guidelines", ["sex"]))
    code, doc, _ = _run(fairgate, spec, tmp_path / "out")
    (check,) = doc["checks"]
    assert check["value"] == pytest.approx(0.5)
    assert check["status"] == "fail" and code == ExitCode.CHECKS_FAILED
    sig = check["details"]["significance"]
    assert sig["significant"] and sig["flag"] and sig["p_value"] < 0.05
    assert check["clause"] == {
        "policy": "eeoc-uniform-guidelines",
        "version": "1978",
        "id": "1607.4(D)",
        "citation": "29 CFR 1607.4(D)",
    }
    policy = load_policy("eeoc-uniform-guidelines")
    assert doc["provenance"]["policies"] == [policy.provenance()]
    assert doc["provenance"]["policies"][0]["sha256"] == policy.sha256
    report = (tmp_path / "out" / "report.html").read_text()
    assert "eeoc-uniform-guidelines 1978, clause 1607.4(D) (29 CFR 1607.4(D))" in report
    assert "clause 1607.4(D)" in (tmp_path / "out" / "summary.md").read_text()
    junit = (tmp_path / "out" / "junit.xml").read_text()
    assert 'name="clause_citation" value="29 CFR 1607.4(D)"' in junit


def test_small_sample_under_four_fifths_without_significance_is_inconclusive(
    tmp_path, write_spec, fairgate
):
    """12 of 30 against 9 of 30: a ratio of 0.75, but the difference is far from significant
    in so small a sample: reported as inconclusive (exit 2), neither adverse impact nor pass."""
    data = _log(tmp_path / "log.csv", [({"sex": "men"}, 30, 12), ({"sex": "women"}, 30, 9)])
    spec = write_spec(_spec(data, ["eeoc-uniform-guidelines"], ["sex"]))
    code, doc, _ = _run(fairgate, spec, tmp_path / "out")
    (check,) = doc["checks"]
    assert check["value"] == pytest.approx(0.75)
    assert check["status"] == "inconclusive" and code == ExitCode.UNDECIDED
    assert not check["details"]["significance"]["significant"]
    assert "not statistically significant" in check["message"]


def test_a_spec_may_tighten_but_not_loosen_a_policy_bound(tmp_path, write_spec, fairgate):
    data = _log(tmp_path / "log.csv", [({"sex": "men"}, 80, 48), ({"sex": "women"}, 40, 12)])
    loose = _spec(
        data,
        "eeoc-uniform-guidelines",
        ["sex"],
        checks=[{"metric": "selection_rate", "disparity": "ratio", "min": 0.7}],
    )
    code, _, err = fairgate("validate", write_spec(loose))
    assert code == ExitCode.USAGE_ERROR
    assert "checks[0]" in err and "looser than the policy's min 0.8" in err
    assert "1607.4(D)" in err
    tight = {**loose, "checks": [{"metric": "selection_rate", "disparity": "ratio", "min": 0.9}]}
    spec = parse_spec(yaml.safe_load(yaml.safe_dump(tight)))
    assert [c.min for c in spec.checks] == [0.8, 0.9]
    assert spec.checks[0].clause.id == "1607.4(D)" and spec.checks[1].clause is None
    with pytest.raises(SpecError, match="set by a policy"):
        parse_spec({**tight, "checks": [{**tight["checks"][0], "clause": {"policy": "x"}}]})
    with pytest.raises(SpecError, match="free text goes in policy_note"):
        parse_spec({**tight, "policy": "Our committee's rule on selection rates"})


#: (sex, race, n, selected): 500 people; race 'native' is 9 (1.8% < 2%), excluded with a
#: reason; 20 of unknown sex and 10 of unknown race.
LL144_CELLS = [
    ("female", "white", 100, 35),
    ("female", "black", 90, 22),
    ("female", "native", 4, 1),
    ("female", "unknown", 6, 2),
    ("male", "white", 141, 60),
    ("male", "black", 130, 48),
    ("male", "native", 5, 2),
    ("male", "unknown", 4, 1),
    ("unknown", "white", 12, 4),
    ("unknown", "black", 8, 2),
]


def test_ll144_impact_ratios_and_disclosure_csv(tmp_path, write_spec, fairgate):
    data = _log(tmp_path / "log.csv", [({"sex": s, "race": r}, n, k) for s, r, n, k in LL144_CELLS])
    spec = _spec(
        data,
        "nyc-ll144",
        ["sex", "race"],
        roles={"race_ethnicity": "race"},
        exclusions=[
            {
                "group": "race=native",
                "justification": "Under 2% of the audit data (9 of 500 applicants), too few "
                "for a stable rate.",
            }
        ],
        deployment={
            "purpose": "Ranks applicants for interview",
            "context": "workplace",
            "data_source": "Historical applications, 2025",
        },
    )
    code, doc, _ = _run(fairgate, write_spec(spec), tmp_path / "out")
    assert code == ExitCode.OK  # the law sets no pass mark: flagged, not blocking
    by_view = {c["view"]: c for c in doc["checks"]}
    assert set(by_view) == {"sex", "race", "sex|race"}
    assert all(c["clause"]["id"] == "5-301(b)" for c in doc["checks"])
    sex, race = by_view["sex"], by_view["race"]
    assert sex["details"]["unknown_count"] == 20 and race["details"]["unknown_count"] == 10
    assert sex["value"] == pytest.approx((60 / 200) / (111 / 280))
    assert sex["details"]["flagged_groups"] == ["sex=female"]
    assert race["value"] == pytest.approx((72 / 228) / (99 / 253))
    inter = by_view["sex|race"]
    assert inter["details"]["unjudged_groups"] == ["sex=female|race=native", "sex=male|race=native"]
    assert inter["value"] == pytest.approx((22 / 90) / (60 / 141))  # judged categories only
    assert inter["details"]["lowest_group"] == "sex=female|race=black"
    assert race["by_group"]["race=native"]["status"] == "excluded"
    assert race["by_group"]["race=native"]["n"] == 9
    rows = list(csv.reader(io.StringIO((tmp_path / "out" / "ll144_disclosure.csv").read_text())))
    assert rows[0] == [
        "category",
        "number",
        "rate",
        "impact_ratio",
        "note",
        "view",
        "rate_kind",
        "audit_date",
        "data_source",
    ]
    table = {(r[5], r[0]): r for r in rows[1:]}
    date = doc["run"]["started_at"][:10]
    tail = ["selection", date, "Historical applications, 2025"]
    assert table[("sex", "sex=female")] == [
        "sex=female",
        "200",
        "0.300",
        f"{(60 / 200) / (111 / 280):.3f}",
        "",
        "sex",
        *tail,
    ]
    assert table[("sex", "sex=male")] == [
        "sex=male",
        "280",
        f"{111 / 280:.3f}",
        "1.000",
        "highest rate",
        "sex",
        *tail,
    ]
    assert table[("sex", "unknown")][:2] == ["unknown", "20"]
    assert table[("race", "race=white")][:4] == ["race=white", "253", f"{99 / 253:.3f}", "1.000"]
    assert table[("race", "race=black")][:4] == [
        "race=black",
        "228",
        f"{72 / 228:.3f}",
        f"{(72 / 228) / (99 / 253):.3f}",
    ]
    # 9 people and 10 unknowns: under 11, suppressed (the excluded row has no ratio).
    assert table[("race", "race=native")][1:4] == ["suppressed", "suppressed", ""]
    assert "excluded" in table[("race", "race=native")][4]
    assert table[("race", "unknown")][1] == "suppressed"
    # Intersections: a cell under 11 is hidden, and so is a second cell of its line (else
    # it would follow from the sex total); every cell shown is its true count.
    hidden_per_sex: dict[str, int] = {}
    for (view, category), r in table.items():
        if view != "sex|race" or category == "unknown":
            continue
        sex_key, race_key = category.split("|")
        n = sum(c[2] for c in LL144_CELLS if (f"sex={c[0]}", f"race={c[1]}") == (sex_key, race_key))
        # under 11: "suppressed"; 11 or more hidden to protect it: withheld, never "suppressed"
        assert r[1] in ("suppressed" if n < 11 else (str(n), WITHHELD))
        hidden_per_sex[sex_key] = hidden_per_sex.get(sex_key, 0) + (r[1] != str(n))
    assert table[("sex|race", "sex=male|race=white")][1] == "141"
    assert all(k != 1 for k in hidden_per_sex.values()) and hidden_per_sex["sex=female"] >= 2
    report = (tmp_path / "out" / "report.html").read_text()
    assert "NYC Local Law 144 disclosure" in report and "Historical applications, 2025" in report
    # An exclusion of a category of 2% or more is refused at run time (an error, exit 2).
    spec["exclusions"][0]["group"] = "race=black"
    code, doc, _ = _run(fairgate, write_spec(spec, "wide.yaml"), tmp_path / "out2")
    assert code == ExitCode.UNDECIDED
    assert "Only categories under 2%" in {c["view"]: c for c in doc["checks"]}["race"]["message"]


def test_emotion_recognition_in_the_workplace_is_prohibited(
    tmp_path, write_spec, fairgate, in_repo
):
    """The distress detector deployed to watch employees: EU AI Act Art. 5(1)(f) refuses the
    audit (exit 3) whatever the metrics say, and the report cites the clause."""
    spec = yaml.safe_load((ROOT / "audits/specs/emotion_distress_v2.yaml").read_text())
    spec["name"] = "emotion-distress-at-work"
    spec["deployment"]["context"] = "workplace"
    spec["deployment"]["purpose"] = "Flags employees who look distressed at their desks"
    spec["checks"] = spec["checks"][:1]  # the metrics do not matter; keep the audit short
    out = tmp_path / "out"
    key = ed25519.Ed25519PrivateKey.generate()
    private, public = tmp_path / "key.pem", tmp_path / "key.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    spec_path = write_spec(spec)
    code, stdout, stderr = fairgate(
        "run", spec_path, "--out", out, "--no-mlflow", "-q", "--signing-key", private
    )
    doc, text = json.loads((out / "results.json").read_text()), stdout + stderr
    assert code == ExitCode.PROHIBITED_USE == 3
    assert doc["verdict"] == "prohibited" and doc["exit_code"] == 3
    (refusal,) = [c for c in doc["checks"] if c["type"] == "prohibited_use"]
    assert refusal["status"] == "prohibited"
    assert refusal["clause"]["id"] == "Art. 5(1)(f)"
    assert "Art. 5(1)(f)" in refusal["message"] and "verdict: prohibited (exit 3)" in text
    assert verdict_of(doc) == (Verdict.PROHIBITED, ExitCode.PROHIBITED_USE)
    assert contradictions(doc) == []
    report = (out / "report.html").read_text()
    assert "REFUSED: PROHIBITED USE" in report and "Annex IV" in report
    code, _, _ = fairgate("verify", out, "--key", public)
    assert code == ExitCode.OK  # the signed evidence of a refusal verifies
    code, _, _ = fairgate("render", out / "results.json", "--out", tmp_path / "again")
    assert code == ExitCode.OK
    assert "REFUSED" in (tmp_path / "again" / "report.html").read_text()
    # With a stated medical or safety reason, the exception of Art. 5(1)(f) applies.
    spec["deployment"]["medical_or_safety_reason"] = (
        "Detects fainting operators of heavy machinery for their safety"
    )
    code, doc, _ = _run(fairgate, write_spec(spec, "safety.yaml"), tmp_path / "out2")
    assert code != ExitCode.PROHIBITED_USE and doc["verdict"] != "prohibited"


def test_prohibited_dominates_every_other_status():
    statuses = [Status.FAIL, Status.ERROR, Status.PASS, Status.PROHIBITED]
    assert derive_verdict(statuses) == (Verdict.PROHIBITED, ExitCode.PROHIBITED_USE)
    assert derive_verdict([Status.PROHIBITED], errors=1)[0] is Verdict.PROHIBITED


def test_eu_ai_act_needs_a_deployment_and_high_risk_declarations(tmp_path, write_spec):
    data = _log(tmp_path / "log.csv", [({"sex": "men"}, 40, 20), ({"sex": "women"}, 40, 19)])
    base = _spec(data, "eu-ai-act", ["sex"])
    with pytest.raises(SpecError, match="deployment block"):
        parse_spec(base)
    deployment = {
        "purpose": "Decides eligibility for housing benefit",
        "context": "public_services",
        "annex_iii": "5(a)",
    }
    spec = parse_spec({**base, "deployment": deployment})
    assert sorted(c.requires for c in spec.checks if c.type == "requirement") == [
        "accuracy_metrics",
        "bias_examination",
        "human_oversight",
        "logging",
    ]
    low_risk = parse_spec({**base, "deployment": {**deployment, "annex_iii": None}})
    assert [c.type for c in low_risk.checks] == ["prohibited_use"]


def test_listing_and_explaining_policies(fairgate):
    code, out, _ = fairgate("policies")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert names == ["eeoc-uniform-guidelines", "eu-ai-act", "municipal-microcredit", "nyc-ll144"]
    code, out, _ = fairgate("explain-policy", "eu-ai-act")
    assert code == 0 and "Clause Art. 5(1)(f)" in out and "exit 3" in out
    assert "Applies only to high-risk uses declared under Annex III 1(c), 5(a), 5(b)." in out
    code, _, err = fairgate("explain-policy", "no-such-policy")
    assert code == ExitCode.USAGE_ERROR and "shipped policy" in err


def test_reference_specs_use_the_shipped_policies(in_repo):
    from audits import load_spec

    for path in sorted((ROOT / "audits/specs").glob("*.yaml")):
        spec = load_spec(path)
        assert spec.policy, path.name
        assert all(load_policy(p) for p in spec.policy)
    credit = load_spec(ROOT / "audits/specs/credit_scoring_v1.yaml")
    mc = [
        c
        for c in credit.checks
        if getattr(c, "clause", None) and c.clause.policy == "municipal-microcredit"
    ]
    assert [c.clause.id for c in mc] == ["MC-1", "MC-2", "MC-3", "MC-4", "MC-5", "MC-6"]
    assert mc[0].min == 0.8 and mc[1].max == 0.10


def test_a_users_own_policy_by_path(tmp_path, fairgate):
    """A committee's own policy file: found by path, roles mapped to the spec's columns, its
    hash in the provenance; an invalid check in it is refused (exit 4)."""
    policy = {
        "name": "committee-hiring",
        "version": "3",
        "title": "Hiring committee policy",
        "issuer": "The hiring committee",
        "sources": [{"citation": "Committee minutes, 2026-03-01"}],
        "clauses": [
            {
                "id": "H-1",
                "citation": "Committee policy H-1",
                "title": "Equal selection by gender",
                "text": "Selection rates by gender within 10 points.",
                "checks": [
                    {
                        "metric": "selection_rate",
                        "disparity": "difference",
                        "max": 0.1,
                        "roles": ["gender"],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "hiring.yaml"
    path.write_text(yaml.safe_dump(policy))
    data = _log(tmp_path / "log.csv", [({"sex": "men"}, 40, 20), ({"sex": "women"}, 40, 19)])
    spec = parse_spec({**_spec(data, str(path), ["sex"]), "roles": {"gender": "sex"}})
    (check,) = spec.checks
    assert check.views == ["sex"] and check.clause.policy == "committee-hiring"
    with pytest.raises(SpecError, match="needs the attribute role 'gender'"):
        parse_spec(_spec(data, str(path), ["sex"]))
    code, out, _ = fairgate("explain-policy", path)
    assert code == 0 and "Clause H-1" in out
    assert "selection rate difference for each of gender must be at most 0.1." in out
    policy["clauses"][0]["checks"][0]["disparity"] = "ratoi"
    path.write_text(yaml.safe_dump(policy))
    with pytest.raises(SpecError, match=r"clause H-1 checks\[0\]: disparity must be one of"):
        parse_spec({**_spec(data, str(path), ["sex"]), "roles": {"gender": "sex"}})
