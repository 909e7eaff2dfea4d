"""Waivers: a signed-off, expiring exception turns a failure into ``waived`` (never a pass),
the verdict into ``pass_with_waivers`` only while every waiver holds, and is re-derived from
the results document by ``fairgate render``."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import yaml

from .conftest import SPECS, policy_inlined
from .test_attestation import write_key_pair

TODAY = dt.datetime.now(dt.UTC).date()
#: The five failures of the credit v1 model (see the README's reference model section).
V1_FAILURES = [
    {"check": "selection_rate ratio", "view": "age_band"},
    {"check": 0, "view": "sex|age_band"},
    {"check": "false_negative_rate difference", "view": "age_band"},
    {"check": "sensitive_attribution"},
    {"check": 4},
    {"check": "sex counterfactual"},
    {"check": "age counterfactual"},
]


def _waiver(expiry: dt.date, **names) -> dict:
    return {
        **names,
        "reason": "Accepted until the retrained model ships; the youth desk reviews refusals.",
        "approver": "Maria Jensen",
        "date": (expiry - dt.timedelta(days=60)).isoformat(),
        "expiry": expiry.isoformat(),
        "ticket": "ETH-101",
    }


def _write(path, waivers) -> str:
    path.write_text(yaml.safe_dump({"waivers": waivers}, sort_keys=False), encoding="utf-8")
    return str(path)


def test_a_waivers_expiry_flips_pass_to_fail(fairgate, in_repo, tmp_path):
    spec = SPECS / "credit_scoring_v1.yaml"
    valid = _write(
        tmp_path / "w.yaml", [_waiver(TODAY + dt.timedelta(days=30), **w) for w in V1_FAILURES]
    )
    private, public = write_key_pair(tmp_path, "ed25519")
    code, out, err = fairgate(
        "run", spec, "--no-mlflow", "-q", "--out", tmp_path / "ok", "--waivers", valid,
        "--signing-key", private,
    )  # fmt: skip
    assert code == 0, err
    assert "verdict: pass_with_waivers (exit 0)" in out
    doc = json.loads((tmp_path / "ok" / "results.json").read_text())
    assert list(doc)[2:5] == ["verdict", "exit_code", "waivers"]  # right after the verdict
    assert [w["state"] for w in doc["waivers"]] == ["applied"] * 7
    statuses = [c["status"] for c in doc["checks"]]
    assert statuses.count("waived") == 7 and "fail" not in statuses  # waived, never pass
    assert all(c["waived_by"] for c in doc["checks"] if c["status"] == "waived")
    # Every report shows the waivers first, after the verdict.
    md = (tmp_path / "ok" / "summary.md").read_text()
    assert md.index("## Waivers") < md.index("| check | status")
    assert md.count("Maria Jensen") == 7
    html = (tmp_path / "ok" / "report.html").read_text()
    assert html.index('id="waivers"') < html.index('id="audited"')
    assert "RELEASE WITH WAIVERS" in html
    junit = (tmp_path / "ok" / "junit.xml").read_text()
    assert junit.index("waiver.0.applied") < junit.index("<testcase")
    assert junit.count("WAIVED failure") == 7

    # Its evidence verifies, the verdict re-derived with its waivers on its own audit date.
    code, out, _ = fairgate("verify", tmp_path / "ok", "--key", public)
    assert code == 0 and "pass_with_waivers (exit 0) is what the checks" in out, out
    assert "with 7 waived failure(s)" in out
    # The same document renders again; its waivers are re-derived on its own audit date.
    code, out, err = fairgate("render", tmp_path / "ok" / "results.json", "--out", tmp_path / "r")
    assert code == 0 and "verdict pass_with_waivers" in out, err
    forged = json.loads(json.dumps(doc))
    forged["waivers"][3]["expiry"] = (TODAY - dt.timedelta(days=1)).isoformat()  # state kept
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    code, _, err = fairgate("render", tmp_path / "forged.json", "--out", tmp_path / "r2")
    assert code == 4 and "imply 'fail'" in err
    unwaived = json.loads(json.dumps(doc))
    unwaived["waivers"][0]["approver"] = "TBD"
    (tmp_path / "unwaived.json").write_text(json.dumps(unwaived))
    code, _, err = fairgate("render", tmp_path / "unwaived.json", "--out", tmp_path / "r3")
    assert code == 4 and "imply 'fail'" in err

    # One waiver expired yesterday: its failure fails again, and the verdict with it.
    waivers = [_waiver(TODAY + dt.timedelta(days=30), **w) for w in V1_FAILURES]
    waivers[3] = _waiver(TODAY - dt.timedelta(days=1), **V1_FAILURES[3])
    expired = _write(tmp_path / "w2.yaml", waivers)
    code, out, err = fairgate(
        "run", spec, "--no-mlflow", "-q", "--out", tmp_path / "no", "--waivers", expired
    )
    assert code == 1, err
    assert "verdict: fail (exit 1)" in out and "waiver expired" in err
    doc = json.loads((tmp_path / "no" / "results.json").read_text())
    assert [w["state"] for w in doc["waivers"]] == ["applied"] * 3 + ["expired"] + ["applied"] * 3
    failed = [c["name"] for c in doc["checks"] if c["status"] == "fail"]
    assert failed == ["sensitive_attribution"]
    assert [doc["checks"][i]["name"] for i in doc["waivers"][3]["left_failing"]] == failed


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"approver": ""}, "approver must name the person"),
        ({"approver": "TBD"}, "approver must name the person"),
        ({"approver": "the committee"}, "not a role"),
        ({"reason": "ok, accepted"}, "at least 20 characters"),
        ({"check": "no such check"}, "check must be a check's index or one of the names"),
        ({"check": 99}, "check must be the index of a check"),
        ({"view": "sex|age_band", "check": 1}, "view must be one of ['sex', 'age_band']"),
        ({"group": "age_band=<25", "check": 3}, "group applies to group metric checks"),
        ({"expiry": "2020-01-01"}, "expiry must be on or after its date"),
    ],
)
def test_a_waiver_that_cannot_be_honoured_is_refused(
    change, says, fairgate, in_repo, tmp_path, write_spec
):
    waiver = {**_waiver(TODAY, check=0), **change}
    if not change.get("approver", "x"):
        del waiver["approver"]
        says = "approver is required"
    path = _write(tmp_path / "w.yaml", [waiver])
    code, _, err = fairgate(
        "run",
        SPECS / "credit_scoring_v1.yaml",
        "--no-mlflow",
        "--out",
        tmp_path / "o",
        "--waivers",
        path,
    )
    assert code == 4 and says in err, err
    assert not (tmp_path / "o").exists()  # nothing was audited
    spec = yaml.safe_load((SPECS / "credit_scoring_v1.yaml").read_text())
    spec["waivers"] = [waiver]  # the same waiver in the spec itself
    code, _, err = fairgate("validate", write_spec(spec))
    assert code == 4 and says in err, err


def _fairness_spec(write_spec, **data) -> dict:
    spec = policy_inlined(yaml.safe_load((SPECS / "credit_scoring_v1.yaml").read_text()))
    spec["checks"] = [c for c in spec["checks"] if "metric" in c]  # fast: no explanations
    spec["data"].update(data)
    return spec


def _audit(spec_dict, write_spec, started: dt.date, waivers: list[dict]):
    from audits import load_spec, run_audit

    spec_dict = {**spec_dict, "waivers": waivers}
    path = write_spec(spec_dict)
    return run_audit(path, spec=load_spec(path), started_at=f"{started.isoformat()}T09:00:00Z")


def test_a_waiver_holds_from_its_date_to_its_expiry_inclusive(in_repo, write_spec):
    spec = _fairness_spec(write_spec)
    waivers = [
        {**_waiver(dt.date(2026, 6, 30), **w), "date": "2026-06-01"} for w in V1_FAILURES[:3]
    ]
    states = {}
    for day in (
        dt.date(2026, 5, 31),
        dt.date(2026, 6, 1),
        dt.date(2026, 6, 30),
        dt.date(2026, 7, 1),
    ):
        doc = _audit(spec, write_spec, day, waivers).document
        states[day.isoformat()] = (doc["verdict"], doc["exit_code"], doc["waivers"][0]["state"])
    assert states == {
        "2026-05-31": ("fail", 1, "not_yet_valid"),
        "2026-06-01": ("pass_with_waivers", 0, "applied"),
        "2026-06-30": ("pass_with_waivers", 0, "applied"),
        "2026-07-01": ("fail", 1, "expired"),
    }


def test_a_group_waiver_covers_only_its_group(in_repo, write_spec):
    spec = _fairness_spec(write_spec)
    day = dt.date(2026, 6, 15)
    young = {"check": 0, "view": "age_band", "group": "age_band=<25"}
    middle = {"check": 0, "view": "age_band", "group": "age_band=25-34"}
    doc = _audit(
        spec, write_spec, day, [_waiver(dt.date(2026, 7, 1), **g) for g in (young, middle)]
    ).document
    age = next(c for c in doc["checks"] if c["name"] == "selection_rate ratio [age_band]")
    # <25 is the least favoured group, and without it the ratio 0.742/0.915 = 0.81 holds.
    assert age["status"] == "waived" and age["waived_by"] == [0]
    assert doc["waivers"][1]["state"] == "unused"
    assert "is 'age_band=<25', not 'age_band=25-34'" in doc["waivers"][1]["notes"][0]
    inter = {"check": 0, "view": "sex|age_band", "group": "sex=male|age_band=<25"}
    doc = _audit(spec, write_spec, day, [_waiver(dt.date(2026, 7, 1), **inter)]).document
    assert doc["waivers"][0]["state"] == "unused"  # other groups are beyond the bound too
    assert "still beyond its bound" in doc["waivers"][0]["notes"][0]


def test_waivers_never_cover_insufficient_evidence_or_errors(in_repo, write_spec, tmp_path):
    from audits import Status, Verdict, derive_verdict

    spec = _fairness_spec(write_spec, min_group_size=200)  # <25 (89 people) too small to judge
    waiver = _waiver(dt.date(2026, 7, 1), check=0, view="age_band")
    doc = _audit(spec, write_spec, dt.date(2026, 6, 15), [waiver]).document
    age = next(c for c in doc["checks"] if c["name"] == "selection_rate ratio [age_band]")
    assert age["status"] == "insufficient_evidence"
    assert doc["waivers"][0]["state"] == "unused" and doc["verdict"] != "pass_with_waivers"
    data = tmp_path / "bad.csv"  # a label outside its values: the audit stops with an error
    frame = pd.read_csv(in_repo / spec["data"]["path"])
    frame.loc[0, "good_credit"] = 7
    frame.to_csv(data, index=False)
    broken = _fairness_spec(write_spec)
    broken["data"]["path"] = str(data)
    doc = _audit(broken, write_spec, dt.date(2026, 6, 15), [waiver]).document
    assert doc["verdict"] == "error" and doc["waivers"][0]["state"] == "unused"
    # The derivation: a failure dominates, an error or inconclusive check is never waived away.
    W, P = Status.WAIVED, Status.PASS
    assert derive_verdict([W, P]) == (Verdict.PASS_WITH_WAIVERS, 0)
    assert derive_verdict([W, Status.FAIL])[0] == Verdict.FAIL
    assert derive_verdict([W, Status.ERROR])[0] == Verdict.ERROR
    assert derive_verdict([W, Status.INCONCLUSIVE])[0] == Verdict.INCONCLUSIVE
    assert derive_verdict([W, P], errors=1)[0] == Verdict.ERROR
