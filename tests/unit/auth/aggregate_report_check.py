"""Reads an aggregate report Bulwark rendered (RFC 7489 Appendix C) with xml.etree, an XML parser
independent of ours, and prints its fields as JSON for dmarc_report_test. With a sample folder
(the reports of $BULWARK_TESTDATA/dmarc/aggregate-reports) it also checks the report's shape
against theirs: every element path of ours occurs in some sample, and siblings come in the order
the samples use. Exit status 1 with a message on stderr when the report breaks either rule."""

import glob
import json
import os
import sys
import xml.etree.ElementTree as ElementTree


# Elements of the RFC 7489 Appendix C schema that Bulwark writes and no sample happens to use.
SCHEMA_ONLY_PATHS = {
    # IdentifierType: envelope_to (optional, first), envelope_from, header_from.
    "feedback/record/identifiers/envelope_to",
}


def text(element, path):
    found = element.find(path)
    return None if found is None else (found.text or "")


def fields(root):
    metadata = root.find("report_metadata")
    policy = root.find("policy_published")
    records = []
    for record in root.findall("record"):
        row = record.find("row")
        records.append({
            "source_ip": text(row, "source_ip"),
            "count": int(text(row, "count")),
            "disposition": text(row, "policy_evaluated/disposition"),
            "dkim": text(row, "policy_evaluated/dkim"),
            "spf": text(row, "policy_evaluated/spf"),
            "reason": text(row, "policy_evaluated/reason/type"),
            "envelope_to": text(record, "identifiers/envelope_to"),
            "envelope_from": text(record, "identifiers/envelope_from"),
            "header_from": text(record, "identifiers/header_from"),
            "auth_dkim": [{"domain": text(d, "domain"), "selector": text(d, "selector"),
                           "result": text(d, "result")}
                          for d in record.findall("auth_results/dkim")],
            "auth_spf": [{"domain": text(s, "domain"), "scope": text(s, "scope"),
                          "result": text(s, "result")}
                         for s in record.findall("auth_results/spf")],
        })
    return {
        "version": text(root, "version"),
        "org_name": text(metadata, "org_name"),
        "email": text(metadata, "email"),
        "extra_contact_info": text(metadata, "extra_contact_info"),
        "report_id": text(metadata, "report_id"),
        "begin": int(text(metadata, "date_range/begin")),
        "end": int(text(metadata, "date_range/end")),
        "policy": {name: text(policy, name)
                   for name in ("domain", "adkim", "aspf", "p", "sp", "pct", "np")},
        "records": records,
    }


def walk(element, path, paths, orders):
    """Collects element paths, and for each parent path the order of distinct child names."""
    paths.add(path)
    names = []
    for child in element:
        name = child.tag.split("}")[-1]  # DMARCbis samples use a namespace; names are the same
        if not names or names[-1] != name:
            names.append(name)
        walk(child, path + "/" + name, paths, orders)
    orders.setdefault(path, []).append(names)


def shape_problems(root, sample_folder):
    sample_paths, sample_orders = set(), {}
    samples = sorted(glob.glob(os.path.join(sample_folder, "*", "*.xml")))
    if not samples:
        return [f"no sample reports in {sample_folder}"]
    for sample in samples:
        try:
            sample_root = ElementTree.parse(sample).getroot()
        except ElementTree.ParseError:
            continue  # opendmarc's bad.com is malformed on purpose: it shows no shape
        walk(sample_root, "feedback", sample_paths, sample_orders)
    our_paths, our_orders = set(), {}
    walk(root, "feedback", our_paths, our_orders)
    problems = [f"{path} occurs in no sample report"
                for path in sorted(our_paths - sample_paths - SCHEMA_ONLY_PATHS)]
    for path, orders in our_orders.items():
        for names in orders:
            for first_index, first in enumerate(names):
                for second in names[first_index + 1:]:
                    # A pair the samples write the other way round, and never our way.
                    ours = any(first in o and second in o and o.index(first) < o.index(second)
                               for o in sample_orders.get(path, []))
                    theirs = any(first in o and second in o and o.index(second) < o.index(first)
                                 for o in sample_orders.get(path, []))
                    if theirs and not ours:
                        problems.append(f"{path}: <{first}> before <{second}>, samples differ")
    return problems


def main():
    root = ElementTree.parse(sys.argv[1]).getroot()
    if root.tag != "feedback":
        print(f"root element is <{root.tag}>, not <feedback>", file=sys.stderr)
        return 1
    if len(sys.argv) > 2:
        problems = shape_problems(root, sys.argv[2])
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
    print(json.dumps(fields(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
