"""The committee's register, built from a real MLflow store holding the six reference audits,
read in Chromium: no console error, no network request, zero axe-core violations (WCAG 2.2
AA) on every page type, keyboard and print; ``fairgate diff``; the transparency records."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil

import pytest

from .conftest import ROOT, SPECS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AXE = ROOT / "tests" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The six reference audits, run with ``fairgate run`` into one sqlite MLflow store."""
    from audits.cli import main

    root = tmp_path_factory.mktemp("register")
    uri = f"sqlite:///{root / 'store' / 'mlflow.db'}"
    codes = {}
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        # Two versions of each of the three systems (v3 of credit scoring is left out: the
        # register's pages are the same for a third version, and its audit takes minutes).
        for spec in sorted(p for p in SPECS.glob("*.yaml") if p.stem != "credit_scoring_v3"):
            out = root / "evidence" / spec.stem
            args = ["run", str(spec), "--out", str(out), "--tracking-uri", uri, "-q"]
            codes[spec.stem] = main([*args, "--ledger", str(root / "ledger.jsonl")])
    finally:
        os.chdir(cwd)
    assert codes == {
        "credit_scoring_v1": 1,
        "credit_scoring_v2": 0,
        "emotion_distress_v1": 1,
        "emotion_distress_v2": 0,
        "voice_menu_v1": 1,
        "voice_menu_v2": 1,
    }
    # The monitor's state file for the voice menu in service: its breaker is open.
    from audits._monitor import write_state

    state = {"system": "voice-menu-v2", "state": "open", "updated_at": "2026-11-20T09:00:00Z"}
    write_state(root / "breaker" / "voice-menu-v2.json", state)
    return {"root": root, "uri": uri, "evidence": root / "evidence"}


@pytest.fixture(scope="module")
def site(store):
    from audits.cli import main

    out = store["root"] / "site"
    code = main(
        [
            "register",
            "--out",
            str(out),
            "--tracking-uri",
            store["uri"],
            "--state-dir",
            str(store["root"] / "breaker"),
        ]
    )
    assert code == 0
    return out


def _document(store, stem: str) -> dict:
    return json.loads((store["evidence"] / stem / "results.json").read_text())


def test_every_page_type_renders_offline_and_passes_axe(site):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "Debian's chromium must be installed (.ci/setup installs it)"
    assert AXE.is_file(), "axe-core must be installed: npm ci --prefix tests/axe (.ci/setup)"
    pages = sorted(site.rglob("*.html"))
    kinds = {p.relative_to(site).parts[0] for p in pages}
    assert kinds == {"index.html", "systems", "diffs", "audits"}
    assert len(pages) == 1 + 3 + 3 + 6
    found: dict[str, list] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for path in pages:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            console, requests = [], []
            page.on("console", lambda m, c=console: c.append(m.text) if m.type == "error" else 0)
            page.on("pageerror", lambda e, c=console: c.append(str(e)))
            page.on("request", lambda r, q=requests: q.append(r.url))
            page.goto(path.as_uri())
            assert page.locator("h1").first.is_visible()
            page.add_script_tag(path=str(AXE))
            result = page.evaluate(
                "tags => axe.run(document, {preload: false, runOnly: {type: 'tag', values: tags}})",
                WCAG,
            )
            found[str(path.relative_to(site))] = [
                (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
                for v in result["violations"]
            ]
            assert result["passes"], path  # axe did run its rules on the page
            assert console == [], (path, console)
            assert all(u.startswith(("file:", "data:")) for u in requests), (path, requests)
            page.close()
        browser.close()
    assert {k: v for k, v in found.items() if v} == {}


def test_keyboard_skip_link_and_print(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for rel in ("systems/credit-scoring.html", next(site.glob("audits/*/report.html"))):
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto((site / rel).as_uri())
            page.keyboard.press("Tab")
            skip = page.locator(":focus")
            assert skip.get_attribute("class") == "skip" and skip.is_visible()
            outline = skip.evaluate("e => getComputedStyle(e).outlineStyle")
            assert outline != "none"
            page.keyboard.press("Enter")
            assert page.evaluate("document.activeElement.id") == "main"
            page.emulate_media(media="print")
            assert not page.locator(".skip").is_visible()
            page.close()
        page = browser.new_page()
        page.goto((site / "index.html").as_uri())
        page.emulate_media(media="print")
        assert not page.locator("nav.site").is_visible()
        assert page.get_by_role("table").is_visible()
        browser.close()


def test_home_lists_every_system_with_its_verdict_and_breaker(site, store):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto((site / "index.html").as_uri())
        rows = page.locator("tbody tr")
        texts = {}
        for i in range(rows.count()):
            cells = rows.nth(i).locator("th, td").all_inner_texts()
            texts[cells[0].split("\n")[-1]] = cells
        browser.close()
    assert set(texts) == {"credit-scoring", "emotion-distress", "voice-menu"}
    assert (
        "RELEASE" in texts["credit-scoring"][1]
        and "credit-scoring-v2" in texts["credit-scoring"][1]
    )
    assert "BLOCKED" in texts["voice-menu"][1]
    assert texts["voice-menu"][6].startswith("open")
    assert texts["credit-scoring"][6] == "no breaker state found"
    policies = _document(store, "credit_scoring_v2")["provenance"]["policies"]
    assert [p["name"] for p in policies] == ["municipal-microcredit", "eu-ai-act"]
    assert texts["credit-scoring"][4].startswith("municipal-microcredit (version ")
    # Each audit's report is in the site, linked from its system's page.
    html = (site / "systems" / "credit-scoring.html").read_text()
    for stem in ("credit_scoring_v1", "credit_scoring_v2"):
        audit_id = _document(store, stem)["run"]["audit_id"]
        report = site / "audits" / audit_id / "report.html"
        assert f"../audits/{audit_id}/report.html" in html and report.is_file()
        # The audit's own report, rendered again from its results.json and charts.
        assert report.read_bytes() == (store["evidence"] / stem / "report.html").read_bytes()
    # A chart per check, each with its text alternative and data table.
    checks = _document(store, "credit_scoring_v1")["checks"]
    assert html.count('<svg role="img"') == len(checks)
    assert html.count("<desc id=") == len(checks)
    assert html.count(": values by audit</caption>") == len(checks)


def _fail_to_pass(store) -> list[str]:
    before = {c["name"]: c["status"] for c in _document(store, "credit_scoring_v1")["checks"]}
    after = {c["name"]: c["status"] for c in _document(store, "credit_scoring_v2")["checks"]}
    return [n for n, s in before.items() if s == "fail" and after.get(n) == "pass"]


def test_diff_of_credit_v1_to_v2_lists_the_checks_that_went_from_fail_to_pass(
    store, site, fairgate
):
    expected = _fail_to_pass(store)
    assert "selection_rate ratio [age_band]" in expected and "sensitive_attribution" in expected
    a, b = store["evidence"] / "credit_scoring_v1", store["evidence"] / "credit_scoring_v2"
    code, out, _ = fairgate("diff", a, b)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("resolved failures: "))
    assert line.removeprefix("resolved failures: ").split(", ") == expected
    assert "new failures: none" in out and "noise rule: " in out
    assert "data digest: same" in out and "model digest: changed" in out
    # The same by MLflow run id, as JSON.
    from reports import tracking_client

    client = tracking_client(store["uri"])
    ids = {}
    for run in client.search_runs(
        [client.get_experiment_by_name("fairgate/credit-scoring").experiment_id]
    ):
        if "mlflow.parentRunId" not in run.data.tags:
            ids[run.data.tags["fairgate.spec_name"]] = run.info.run_id
    code, out, _ = fairgate(
        "diff",
        ids["credit-scoring-v1"],
        ids["credit-scoring-v2"],
        "--json",
        "--tracking-uri",
        store["uri"],
    )
    assert code == 0
    result = json.loads(out)
    assert result["resolved_failures"] == expected and result["new_failures"] == []
    sensitive = next(c for c in result["checks"] if c["name"] == "sensitive_attribution")
    assert sensitive["noise"] == "larger than the noise"  # intervals [0.099, 0.111] vs [0, 0]
    # The site's diff page says it too.
    page = (site / "diffs" / "credit-scoring.html").read_text()
    resolved = page.split("Failures resolved</dt><dd>")[1].split("</dd>")[0]
    assert resolved == ", ".join(expected).replace("&", "&amp;")


def test_the_noise_rule_follows_the_intervals(store):
    from reports import diff_documents

    before = _document(store, "credit_scoring_v1")
    after = json.loads(json.dumps(before))
    i = next(i for i, c in enumerate(before["checks"]) if c.get("ci"))  # a check with an interval
    check, name = after["checks"][i], before["checks"][i]["name"]
    lo, hi = before["checks"][i]["ci"]

    def noise() -> str:
        return next(c for c in diff_documents(before, after)["checks"] if c["name"] == name)[
            "noise"
        ]

    check["value"], check["ci"] = hi + 0.02, [hi + 0.01, hi + 0.03]
    assert noise() == "larger than the noise"
    check["value"], check["ci"] = hi - 0.001, [lo, hi]
    assert noise() == "within the noise"


def test_transparency_record_marks_what_people_must_fill(site):
    from reports import TO_FILL

    record = json.loads((site / "transparency" / "credit-scoring.json").read_text())
    rows = list(
        csv.DictReader(io.StringIO((site / "transparency" / "credit-scoring.csv").read_text()))
    )
    assert [r["field"] for r in rows] == [f["field"] for f in record["fields"]]
    by_field = {f["field"]: f for f in record["fields"]}
    for name in ("Organisation", "Appeals and review"):
        assert by_field[name] == {**by_field[name], "value": TO_FILL, "filled_by": "people"}
    # What the spec's deployment block declares, fairgate fills in (and says so).
    purpose = by_field["Purpose"]
    assert purpose["filled_by"] == "fairgate (spec)"
    assert purpose["value"].startswith("Scores applications for municipal microcredit")
    assert "selection_rate ratio [age_band]: pass" in by_field["Fairness results"]["value"]
    assert "reason_codes: pass" in by_field["Explainability results"]["value"]
    assert by_field["Versions audited"]["value"] == "credit-scoring-v1, credit-scoring-v2"
    assert all(f["value"] != TO_FILL for f in record["fields"] if f["filled_by"] != "people")


def test_bad_usage_exits_4(store, tmp_path, fairgate):
    assert fairgate("register", "--out", tmp_path / "s")[0] == 4
    assert (
        fairgate("diff", tmp_path / "missing.json", store["evidence"] / "credit_scoring_v1")[0] == 4
    )
    # A folder holding something else is never overwritten.
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    evidence = store["evidence"] / "credit_scoring_v1"
    assert fairgate("register", "--out", other, "--evidence", evidence)[0] == 4
    assert (other / "notes.txt").read_text() == "mine"
    # A results document whose verdict its checks do not imply is refused.
    forged = _document(store, "credit_scoring_v1")
    forged["verdict"], forged["exit_code"] = "pass", 0
    (tmp_path / "forged").mkdir()
    (tmp_path / "forged" / "results.json").write_text(json.dumps(forged))
    code, _, err = fairgate("register", "--out", tmp_path / "s", "--evidence", tmp_path / "forged")
    assert code == 4 and "refused" in err
    assert not (tmp_path / "s").exists()


def test_register_from_evidence_folders_replaces_an_earlier_register(store, tmp_path, fairgate):
    out = tmp_path / "site"
    folders = [store["evidence"] / s for s in ("credit_scoring_v1", "credit_scoring_v2")]
    args = ["register", "--out", out, "--state-dir", tmp_path / "none"]
    assert fairgate(*args, "--evidence", folders[0])[0] == 0
    assert fairgate(*args, *[x for f in folders for x in ("--evidence", f)])[0] == 0
    assert sorted(p.name for p in (out / "systems").iterdir()) == ["credit-scoring.html"]
    assert len(list((out / "audits").iterdir())) == 2
    assert "resolved failure" in (out / "diffs" / "credit-scoring.html").read_text()


def test_the_model_in_service_is_read_from_the_registry(tmp_path, fairgate, in_repo):
    """An audit of ``models:/credit-scoring@candidate`` promoted to ``production``: the
    register shows both aliases and the verdict tagged on the version they point to."""
    import mlflow
    import mlflow.sklearn
    import skops.io as sio
    import yaml
    from mlflow.tracking import MlflowClient

    from .conftest import CREDIT

    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    path = CREDIT / "v2" / "model.skops"
    trusted = sio.get_untrusted_types(file=path)
    # Artifacts beside the store (the default, ./mlruns, would be the repository's root).
    experiment = MlflowClient(tracking_uri=uri).create_experiment(
        "registration", artifact_location=(tmp_path / "store" / "artifacts").as_uri()
    )
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run(experiment_id=experiment):
            mlflow.sklearn.log_model(
                sio.load(path, trusted=trusted),
                name="model",
                registered_model_name="credit-scoring",
                serialization_format="skops",
                skops_trusted_types=trusted,
            )
    finally:
        mlflow.set_tracking_uri(None)
    MlflowClient(tracking_uri=uri).set_registered_model_alias("credit-scoring", "candidate", "1")
    spec = yaml.safe_load((SPECS / "credit_scoring_v2.yaml").read_text())
    spec["checks"] = [c for c in spec["checks"] if "type" not in c]
    spec["model"] = {
        "kind": "mlflow",
        "uri": "models:/credit-scoring@candidate",
        "trusted_types": spec["model"]["trusted_types"],
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    run = ["run", tmp_path / "spec.yaml", "--out", tmp_path / "ev", "--tracking-uri", uri, "-q"]
    assert fairgate(*run, "--promote", "production", "--ledger", tmp_path / "l.jsonl")[0] == 0
    assert fairgate("register", "--out", tmp_path / "site", "--tracking-uri", uri)[0] == 0
    home = (tmp_path / "site" / "index.html").read_text()
    assert (
        "credit-scoring: candidate → version 1, audited: pass; "
        "production → version 1, audited: pass" in home
    )


def test_an_audit_run_without_a_results_document_is_listed_not_shown(store, tmp_path, fairgate):
    from reports import tracking_client

    uri = f"sqlite:///{tmp_path / 'broken' / 'mlflow.db'}"
    client = tracking_client(uri)
    experiment = client.create_experiment("fairgate/broken")
    tags = {
        "fairgate.audit_id": "broken-1",
        "fairgate.spec_name": "broken",
        "fairgate.verdict": "pass",
    }
    run = client.create_run(experiment, tags=tags)
    client.set_terminated(run.info.run_id, status="FINISHED")
    evidence = store["evidence"] / "credit_scoring_v1"
    args = ["register", "--out", tmp_path / "site", "--tracking-uri", uri, "--evidence", evidence]
    code, _, err = fairgate(*args)
    assert code == 2 and run.info.run_id in err
    home = (tmp_path / "site" / "index.html").read_text()
    assert "Audits that could not be read" in home and run.info.run_id in home
    assert "broken" not in [p.stem for p in (tmp_path / "site" / "systems").iterdir()]


def test_the_transparency_record_reads_structured_system_and_deployment_blocks(store):
    from reports import TO_FILL, transparency_record

    document = _document(store, "credit_scoring_v2")
    content = document["spec"]["content"]
    content["system"] = {"name": "Microcredit scoring", "owner": "City of Example, Finance"}
    content["deployment"] = {"purpose": "Pre-screen microcredit requests", "appeals": ""}
    fields = {f["field"]: f for f in transparency_record("credit-scoring", [document])["fields"]}
    assert fields["Name"]["value"] == "Microcredit scoring"
    assert fields["Organisation"] == {
        "section": "Owner and responsibility",
        "field": "Organisation",
        "value": "City of Example, Finance",
        "filled_by": "fairgate (spec)",
    }
    assert fields["Purpose"]["value"] == "Pre-screen microcredit requests"
    assert fields["Appeals and review"]["value"] == TO_FILL  # empty is not filled
    assert fields["Description"]["value"] == TO_FILL  # no text description in the blocks


def test_a_run_tagged_error_is_never_shown_as_a_release(store, tmp_path, fairgate):
    """A passing audit whose run was tagged ``error`` (e.g. a refused promotion: the process
    exited 2) is shown as undecided: the register never claims more than the run."""
    from reports import log_audit, tracking_client

    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    folder = store["evidence"] / "credit_scoring_v2"
    document = _document(store, "credit_scoring_v2")
    logged = log_audit(document, {"results.json": folder / "results.json"}, tracking_uri=uri)
    tracking_client(uri).set_tag(logged["run_id"], "fairgate.verdict", "error")
    assert fairgate("register", "--out", tmp_path / "site", "--tracking-uri", uri)[0] == 0
    home = (tmp_path / "site" / "index.html").read_text()
    assert "CANNOT DECIDE" in home and "RELEASE" not in home.split("<tbody>")[1]
    page = (tmp_path / "site" / "systems" / "credit-scoring.html").read_text()
    assert "its MLflow run is tagged error; the document says pass" in page


def test_systems_and_audits_whose_names_slug_alike_keep_their_own_pages(store, tmp_path, fairgate):
    """Names differing only in case, punctuation, unicode normalisation or by characters a
    slug drops, and reserved names (``index``): each system keeps its own pages, each audit
    its own report, and every link leads to the named system's record."""
    import re
    import unicodedata

    from reports import page_name

    blocked, released = (_document(store, s) for s in ("credit_scoring_v1", "credit_scoring_v2"))
    assert (blocked["verdict"], released["verdict"]) == ("fail", "pass")
    cafe = "Café scoring"
    systems = {  # exact name -> (document, its verdict title)
        "Credit Scoring": (blocked, "BLOCKED"),
        "credit scoring": (released, "RELEASE"),
        "credit-scoring": (blocked, "BLOCKED"),
        "credit_scoring!": (released, "RELEASE"),
        "credit_scoring?": (blocked, "BLOCKED"),
        "index": (released, "RELEASE"),
        unicodedata.normalize("NFC", cafe): (blocked, "BLOCKED"),
        unicodedata.normalize("NFD", cafe): (released, "RELEASE"),
        # A plain name that looks like another name's suffixed page name.
        page_name("Credit Scoring"): (released, "RELEASE"),
    }
    assert len(systems) == 9
    folders, ids = [], {}
    for i, (name, (document, _)) in enumerate(systems.items()):
        doc = json.loads(json.dumps(document))
        doc["spec"]["content"]["experiment"] = name
        # Audit ids that differ only in case or in a dropped character.
        ids[name] = ["Audit-7", "audit-7", "audit 7", "audit_7"][i % 4] + "x" * (i // 4)
        doc["run"]["audit_id"] = ids[name]
        folder = tmp_path / "ev" / str(i)
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps(doc))
        folders += ["--evidence", folder]
    out = tmp_path / "site"
    code, said, _ = fairgate("register", "--out", out, "--state-dir", tmp_path / "none", *folders)
    assert code == 0 and "register of 9 system(s), 9 audit(s)" in said
    assert len(list((out / "systems").iterdir())) == 9
    assert len(list((out / "diffs").iterdir())) == 9
    assert len(list((out / "transparency").iterdir())) == 18
    assert len(list((out / "audits").iterdir())) == 9
    assert (out / "systems" / "credit-scoring.html").is_file()  # a plain name keeps its page
    assert not (out / "systems" / "index.html").exists()  # a reserved name is suffixed
    home = (out / "index.html").read_text()
    rows = re.findall(
        r'<th scope="row"><a href="systems/([^"]+)\.html">.*?<code>(.*?)</code>', home
    )
    assert len(rows) == 9
    import html as markup

    for page, shown in rows:
        name = markup.unescape(shown)
        document, title = systems[name]
        assert page == page_name(name)
        text = (out / "systems" / f"{page}.html").read_text()
        # The page is the named system's own: its exact name and its own verdict.
        assert f"<dt>System</dt><dd><code>{shown}</code></dd>" in text
        assert f'<span class="verdict {document["verdict"]}">{title}</span>' in text
        record = json.loads((out / "transparency" / f"{page}.json").read_text())
        assert record["system"] == name
        # Its audit's report link leads to the report of that system's own audit.
        link = re.search(r'href="\.\./audits/([^"]+)/report\.html"', text)[1]
        report = (out / "audits" / link / "report.html").read_text()
        assert f"Audit id</dt><dd>{markup.escape(ids[name])};" in report
        assert document["provenance"]["model_sha256"] in report
        assert f'href="../diffs/{page}.html"' in text and (out / "diffs" / f"{page}.html").is_file()
    # The pages are stable: the same names give the same page names in a new register.
    again = tmp_path / "again"
    assert fairgate("register", "--out", again, "--state-dir", tmp_path / "none", *folders)[0] == 0
    assert sorted(p.name for p in (again / "systems").iterdir()) == sorted(
        p.name for p in (out / "systems").iterdir()
    )
