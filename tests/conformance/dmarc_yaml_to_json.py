#!/usr/bin/python3
# Converts one YAML test-vector file of the shared test data to JSON for the C++ runners (no
# YAML library in C++). Run with /usr/bin/python3 (python3-yaml); the JSON goes into the build
# directory, never into the repository. Usage: dmarc_yaml_to_json.py INPUT.yaml OUTPUT.json
import json
import sys

import yaml

with open(sys.argv[1], encoding="utf-8") as source:
    data = yaml.safe_load(source)
with open(sys.argv[2], "w", encoding="utf-8") as target:
    json.dump(data, target)
