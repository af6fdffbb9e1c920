#!/usr/bin/python3
# Converts the ValiMail ARC suite (YAML, protocol draft -18; SOURCES.md
# "arc/valimail-arc-test-suite") to JSON for conformance_arc_test, which has no YAML parser. Run
# at test time into the build directory; the data stays where it is. Repeated test names are all
# kept (a plain YAML mapping keeps only the last of the 4 repeated names), later ones get "#2".
import json
import sys

import yaml


class PairsLoader(yaml.SafeLoader):
    """Mappings become lists of (key, value) pairs, so repeated keys survive."""


def _pairs(loader, node):
    return [(loader.construct_object(key, deep=True), loader.construct_object(value, deep=True))
            for key, value in node.value]


PairsLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _pairs)


def as_dict(pairs):
    return {key: value for key, value in pairs}


def named_tests(pairs):
    seen = {}
    for name, fields in pairs:
        seen[name] = seen.get(name, 0) + 1
        yield (name if seen[name] == 1 else f"{name}#{seen[name]}"), as_dict(fields)


def text(value):
    return "" if value is None else str(value)


def scenarios(path):
    with open(path, encoding="utf-8") as stream:
        for document in yaml.load_all(stream, Loader=PairsLoader):
            if document:
                yield as_dict(document)


def convert(validation_path, signing_path):
    validation = []
    for scenario in scenarios(validation_path):
        records = {name: text(value) for name, value in (scenario.get("txt-records") or [])}
        for name, test in named_tests(scenario["tests"]):
            validation.append({"name": name, "message": text(test.get("message")),
                               "cv": text(test.get("cv")).strip(), "txt_records": records})
    signing = []
    for scenario in scenarios(signing_path):
        records = {name: text(value) for name, value in (scenario.get("txt-records") or [])}
        for name, test in named_tests(scenario["tests"]):
            signing.append({"name": name, "message": text(test.get("message")),
                            "t": int(test["t"]), "sig_headers": text(test.get("sig-headers")),
                            "srv_id": text(test.get("srv-id")), "AS": text(test.get("AS")),
                            "AMS": text(test.get("AMS")), "AAR": text(test.get("AAR")),
                            "domain": text(scenario["domain"]), "selector": text(scenario["sel"]),
                            "private_key": text(scenario["privatekey"]), "txt_records": records})
    return {"validation": validation, "signing": signing}


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: arc_suite_to_json.py VALIDATION.yml SIGNING.yml OUTPUT.json")
    result = convert(sys.argv[1], sys.argv[2])
    with open(sys.argv[3], "w", encoding="utf-8") as output:
        json.dump(result, output)


if __name__ == "__main__":
    main()
