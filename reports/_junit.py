"""JUnit XML: one test case per check and view, so CI systems show each check's outcome."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from ._plain import check_message
from ._text import xml_safe
from ._waiver_text import waiver_line

__all__ = ["render_junit"]

_FAILED = {"fail", "prohibited"}
_ERRORED = {"error", "insufficient_evidence", "inconclusive"}
#: A waived failure is neither a pass nor a failure of the release: shown as skipped, with
#: the waiver in its message.
_WAIVED = "waived"


def render_junit(document: dict[str, Any]) -> str:
    """Render the checks of a results document as a JUnit XML test suite."""
    checks = document["checks"]
    suite = ET.Element(
        "testsuite",
        name=f"fairgate.{document['spec']['name']}",
        tests=str(len(checks)),
        failures=str(sum(c["status"] in _FAILED for c in checks)),
        errors=str(sum(c["status"] in _ERRORED for c in checks) + len(document["errors"])),
        skipped=str(sum(c["status"] in ("skipped", _WAIVED) for c in checks)),
        timestamp=document["run"]["started_at"],
    )
    props = ET.SubElement(suite, "properties")
    for key in ("verdict", "exit_code"):
        ET.SubElement(props, "property", name=key, value=str(document[key]))
    waivers = document.get("waivers") or []
    for n, w in enumerate(waivers):  # right after the verdict
        ET.SubElement(props, "property", name=f"waiver.{n}.{w['state']}", value=waiver_line(w))
    for key in ("spec_sha256", "data_sha256", "model_sha256", "fairgate_version", "git_commit"):
        ET.SubElement(props, "property", name=key, value=str(document["provenance"].get(key)))
    for p in document["provenance"].get("policies") or []:
        ET.SubElement(
            props, "property", name=f"policy.{p['name']}", value=f"{p['version']} {p['sha256']}"
        )
    for check in checks:
        case = ET.SubElement(
            suite, "testcase", classname=f"fairgate.{check['type']}", name=check["name"]
        )
        if check.get("clause"):
            c = check["clause"]
            props = ET.SubElement(case, "properties")
            for key in ("policy", "version", "id", "citation"):
                ET.SubElement(props, "property", name=f"clause_{key}", value=str(c[key]))
        status = check["status"]
        message = check_message(check, document)
        if status in _FAILED:
            ET.SubElement(case, "failure", message=message, type=status)
        elif status in _ERRORED:
            ET.SubElement(case, "error", message=message, type=status)
        elif status == "skipped":
            ET.SubElement(case, "skipped", message=message)
        elif status == _WAIVED:
            by = "; ".join(waiver_line(waivers[n]) for n in check.get("waived_by") or [])
            ET.SubElement(case, "skipped", message=f"WAIVED failure: {message} {by}")
    for err in document["errors"]:
        case = ET.SubElement(suite, "testcase", classname="fairgate.audit", name=err["stage"])
        ET.SubElement(case, "error", message=err["message"], type=err["type"])
    for element in suite.iter():  # names, messages and group values come from the data
        element.attrib = {k: xml_safe(v) for k, v in element.attrib.items()}
        if element.text:
            element.text = xml_safe(element.text)
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
