#!/usr/bin/python3
# Converts the YAML of the shared conformance data (SOURCES.md) to JSON for the C++ runners, which
# have no YAML parser. support/testdata.h runs it at test time with /usr/bin/python3 (python3-yaml)
# and writes the JSON into the build directory; the data stays where it is, nothing is committed.
#
# Usage:
#   yaml_to_json.py [--repeated-keys] INPUT.yaml OUTPUT.json
#       Every YAML document of INPUT, in order, as one JSON array. With --repeated-keys a mapping
#       keeps all its repeated keys, the later ones renamed "key#2", "key#3", ... (the ValiMail ARC
#       suite repeats four test names; a plain mapping would keep only the last of each).
#   yaml_to_json.py --spf-suites TESTDATA_DIR OUTPUT.json
#       The SPF suites of SOURCES.md section 1 in the one shape spf_test.cpp reads; see
#       spf_suites() below. SPF needs its own function: pyspf's zone rules are part of what the
#       suites mean, and mail-auth's SPF files are not valid YAML (they are read line by line the
#       way upstream's verify.rs reads them).
import ipaddress
import json
import os
import sys

import yaml


class RepeatedKeysLoader(yaml.SafeLoader):
    """A safe loader whose mappings keep repeated keys, renaming the later ones "key#N"."""


def _mapping_with_repeated_keys(loader, node):
    mapping = {}
    seen = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        seen[key] = seen.get(key, 0) + 1
        name = key if seen[key] == 1 else f"{key}#{seen[key]}"
        mapping[name] = loader.construct_object(value_node, deep=True)
    return mapping


RepeatedKeysLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                   _mapping_with_repeated_keys)


def yaml_documents(path, repeated_keys):
    loader = RepeatedKeysLoader if repeated_keys else yaml.SafeLoader
    with open(path, encoding="utf-8") as stream:
        return list(yaml.load_all(stream, Loader=loader))


# ---- SPF ---------------------------------------------------------------------------------------
# Output: {"suites": [{"name", "cases": [{"name", "zone", "helo", "host", "mailfrom",
#   "results": [...], "explanation" (or null), "receiver", "mode"}], "zones": [{name: [entry]}]}]}
# An entry is {"type": "TXT"|"A"|"AAAA"|"MX"|"PTR"|"CNAME"|"TIMEOUT", "value": ...}. Text is
# carried as one JSON code point per byte (latin-1), so the runner gets the suite's exact bytes.
def as_bytes_text(value):
    """A YAML string as the bytes the suite means: "\\xEF" in the YAML is the byte 0xEF."""
    text = str(value)
    try:
        return text.encode("latin-1").decode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8").decode("latin-1")


def reverse_name(address):
    return ipaddress.ip_address(address).reverse_pointer


def openspf_zone(zonedata):
    """pyspf testspf.py getrdata(): SPF records are copied into TXT unless the name lists TXT;
    "TXT: NONE" lists TXT without a record; a bare TIMEOUT stays in place."""
    zone = {}
    for name, records in (zonedata or {}).items():
        entries = []
        generated = []
        generate = True
        for record in records:
            if record == "TIMEOUT":
                entries.append({"type": "TIMEOUT"})
                continue
            for record_type, value in record.items():
                if record_type == "TXT":
                    generate = False
                if value == "NONE":
                    continue
                if record_type in ("TXT", "SPF"):
                    if isinstance(value, list):
                        value = "".join(as_bytes_text(part) for part in value)
                    else:
                        value = as_bytes_text(value)
                    if record_type == "SPF":
                        generated.append({"type": "TXT", "value": value})
                if record_type == "MX":
                    value = [int(value[0]), str(value[1])]
                elif record_type not in ("TXT", "SPF"):
                    value = str(value)
                entries.append({"type": record_type, "value": value})
        if generate:
            entries.extend(generated)
        zone[str(name).lower().rstrip(".")] = entries
    return zone


def openspf_suite(name, path):
    suite = {"name": name, "cases": [], "zones": []}
    with open(path, "rb") as stream:
        for scenario in yaml.safe_load_all(stream):
            if not scenario:
                continue
            zone_index = len(suite["zones"])
            suite["zones"].append(openspf_zone(scenario.get("zonedata")))
            for case_name, case in scenario["tests"].items():
                results = case["result"]
                if not isinstance(results, list):
                    results = [results]
                explanation = case.get("explanation")
                suite["cases"].append({
                    "name": case_name,
                    "zone": zone_index,
                    "helo": as_bytes_text(case.get("helo", "")),
                    "host": str(case["host"]),
                    "mailfrom": as_bytes_text(case.get("mailfrom", "")),
                    "results": [str(result) for result in results],
                    "explanation": None if explanation is None else as_bytes_text(explanation),
                    "receiver": str(case.get("receiver", "")),
                    "mode": "mailfrom",
                })
    return suite


def mail_auth_suite(folder):
    """Records accumulate over all documents of a file, and a test sees the records of the lines
    before it (documents interleave records and tests); a later record for the same name and
    kind replaces the earlier one (upstream's caches are maps). A case is named after its file,
    its scenario ("name:") and its number within the document, as upstream reports it."""
    suite = {"name": "mail-auth", "cases": [], "zones": []}
    for file_name in sorted(os.listdir(folder)):
        if not file_name.endswith(".yml"):
            continue
        with open(os.path.join(folder, file_name), encoding="utf-8") as stream:
            text = stream.read()
        records = {}  # (name, kind) -> entries
        changed = True
        for document in text.split("---\n"):
            helo, mailfrom, host = "", "", "127.0.0.1"
            scenario, number = "", 0
            for line in document.split("\n"):
                line = line.strip()
                if line.startswith("-"):
                    line = line[1:].strip()
                key, colon, value = line.partition(":")
                value = value.strip()
                if not colon or line.startswith("#"):
                    continue
                if key in ("spf", "exp", "a", "aaaa", "ptr", "mx"):
                    changed = True
                if key == "name":
                    scenario = value
                elif key in ("spf", "exp"):
                    record_name, _, record = value.partition(" ")
                    records[(record_name.strip().lower(), "TXT")] = [
                        {"type": "TXT", "value": record.strip()}]
                elif key in ("a", "aaaa"):
                    record_name, _, addresses = value.partition(" ")
                    kind = "A" if key == "a" else "AAAA"
                    records[(record_name.strip().lower(), kind)] = [
                        {"type": kind, "value": address.strip()}
                        for address in addresses.split(",")]
                elif key == "ptr":
                    address, _, names = value.partition(" ")
                    records[(reverse_name(address.strip()), "PTR")] = [
                        {"type": "PTR", "value": name.strip()} for name in names.split(",")]
                elif key == "mx":
                    record_name, _, addresses = value.partition(" ")
                    exchanges = []
                    for position, address in enumerate(addresses.split(",")):
                        address = address.strip()
                        exchange = ("mx.%s.%d" % (address, position)).lower()
                        kind = "AAAA" if ":" in address else "A"
                        records[(exchange, kind)] = [{"type": kind, "value": address}]
                        exchanges.append({"type": "MX", "value": [position + 1, exchange]})
                    records[(record_name.strip().lower(), "MX")] = exchanges
                elif key == "domain":
                    helo = value
                elif key == "sender":
                    mailfrom = value
                elif key == "ip":
                    host = value
                elif key == "expect":
                    if changed:
                        zone = {}
                        for (record_name, _kind), entries in records.items():
                            zone.setdefault(record_name, []).extend(entries)
                        suite["zones"].append(zone)
                        changed = False
                    result, _, explanation = value.partition(" ")
                    number += 1
                    suite["cases"].append({
                        "name": "%s: %s #%d" % (file_name, scenario, number),
                        "zone": len(suite["zones"]) - 1,
                        "helo": helo,
                        "host": host,
                        "mailfrom": mailfrom,
                        "results": [result.strip()],
                        "explanation": explanation.strip() or None,
                        "receiver": "localdomain.org",
                        "mode": "helo-then-mailfrom",
                    })
    return suite


def spf_suites(testdata):
    spf = os.path.join(testdata, "spf")
    return {"suites": [
        openspf_suite("rfc7208", os.path.join(spf, "openspf-rfc7208", "rfc7208-tests.yml")),
        openspf_suite("rfc4408", os.path.join(spf, "openspf-rfc7208", "rfc4408-tests.yml")),
        openspf_suite("pyspf-extra", os.path.join(spf, "pyspf-extra", "test.yml")),
        mail_auth_suite(os.path.join(spf, "mail-auth")),
    ]}


def main():
    arguments = sys.argv[1:]
    options = [argument for argument in arguments if argument.startswith("--")]
    paths = [argument for argument in arguments if not argument.startswith("--")]
    if len(paths) != 2 or not set(options) <= {"--repeated-keys", "--spf-suites"} or (
            len(options) > 1):
        sys.exit("usage: yaml_to_json.py [--repeated-keys | --spf-suites] INPUT OUTPUT.json")
    source, output = paths
    if "--spf-suites" in options:
        result = spf_suites(source)
    else:
        result = yaml_documents(source, "--repeated-keys" in options)
    with open(output, "w", encoding="utf-8") as stream:
        json.dump(result, stream)


if __name__ == "__main__":
    main()
