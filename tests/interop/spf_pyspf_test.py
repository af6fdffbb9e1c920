"""pyspf (python3-spf) and Bulwark's SPF must agree on every case of the OpenSPF RFC 7208 suite,
over that suite's own zone data. Bulwark's results come from the conformance runner
(BULWARK_SPF_CONFORMANCE, run with BULWARK_SPF_RESULTS set); pyspf evaluates each case with its
DNS replaced by the zone data, the way pyspf's own test/testspf.py drives it. Compared: the
result and, for fail, the explanation. Known, reasoned pyspf deviations are listed in
spf_pyspf_exceptions.txt ("case<TAB>reason"). Runs under /usr/bin/python3 (it has pyspf)."""

import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import spf  # noqa: E402  (pyspf)
import yaml_to_json  # noqa: E402

TESTDATA = (os.environ.get("BULWARK_TESTDATA") or os.environ.get("BULWARK_TESTDATA_DEFAULT")
            or os.path.join(HERE, "..", "..", "..", "shared", "testdata"))
SUITE = os.path.join(TESTDATA, "spf", "openspf-rfc7208", "rfc7208-tests.yml")
EXCEPTIONS = os.path.join(HERE, "spf_pyspf_exceptions.txt")

zone = {}


def zone_lookup(name, qtype, strict=True, timeout=None):
    """testspf.py's DNSLookup over the converted zone (SPF already copied into TXT)."""
    labels = []
    for label in name.split("."):
        if label:
            if len(label) > 63:
                raise spf.TempError("DNS label too long")
            labels.append(label)
    name = ".".join(labels)
    entries = zone.get(name.lower())
    if entries is None:
        if name.startswith("error."):
            raise spf.TempError("DNS timeout")
        return
    seen = False
    for entry in entries:
        kind = entry["type"]
        if kind == "TIMEOUT":
            if not seen:
                raise spf.TempError("DNS timeout")
            return
        if kind == qtype:
            seen = True
        if kind in ("TXT", "SPF"):
            value = [entry["value"].encode("latin-1")]
        elif kind == "MX":
            value = (entry["value"][0], entry["value"][1])
        else:
            value = entry["value"]
        yield ((name, kind), value)


spf.DNSLookup = zone_lookup


def load_exceptions():
    exceptions = {}
    with open(EXCEPTIONS, encoding="utf-8") as stream:
        for line in stream:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            case, tab, reason = line.partition("\t")
            if not tab or not reason:
                raise AssertionError("exception without a reason: " + line)
            exceptions[case] = reason
    return exceptions


def bulwark_results():
    binary = os.environ.get("BULWARK_SPF_CONFORMANCE")
    if not binary:
        raise unittest.SkipTest("BULWARK_SPF_CONFORMANCE is not set (run through ctest)")
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "results.tsv")
        environment = dict(os.environ, BULWARK_SPF_RESULTS=path, BULWARK_TESTDATA=TESTDATA)
        run = subprocess.run([binary], env=environment, capture_output=True, text=True)
        if not os.path.exists(path):
            raise AssertionError("the conformance runner wrote no results:\n" + run.stdout[-3000:]
                                 + run.stderr[-3000:])
        results = {}
        with open(path, encoding="latin-1") as stream:
            for line in stream:
                suite, case, result, explanation = line.rstrip("\n").split("\t", 3)
                if suite == "rfc7208":
                    results[case] = (result, explanation)
        return results


def pyspf_result(case):
    query = spf.query(i=case["host"], s=case["mailfrom"], h=case["helo"], strict=True)
    query.set_default_explanation("DEFAULT")
    result, _code, explanation = query.check()
    result = {"unknown": "permerror", "error": "temperror"}.get(result, result)
    if result != "fail" or explanation == "DEFAULT":
        explanation = ""
    return result, explanation


class PyspfAgreementTest(unittest.TestCase):
    def test_every_rfc7208_case_agrees(self):
        global zone
        if not os.path.exists(SUITE):
            if os.environ.get("CI") == "true":
                self.fail("test data missing in CI: " + SUITE)
            self.skipTest("test data missing: " + SUITE + " (set BULWARK_TESTDATA)")
        suite = yaml_to_json.openspf_suite("rfc7208", SUITE)
        ours = bulwark_results()
        exceptions = load_exceptions()
        agreed, disagreed, excepted = 0, [], 0
        for case in suite["cases"]:
            zone = suite["zones"][case["zone"]]
            theirs = pyspf_result(case)
            mine = ours.get(case["name"])
            if mine is None:
                disagreed.append("%s: no Bulwark result" % case["name"])
                continue
            if case["name"] in exceptions:
                excepted += 1
                continue
            if mine == theirs:
                agreed += 1
            else:
                disagreed.append("%s: pyspf %s, Bulwark %s" % (case["name"], theirs, mine))
        print("rfc7208 pyspf agreement: %d agree, %d disagree, %d excepted" % (
            agreed, len(disagreed), excepted))
        unused = set(exceptions) - {case["name"] for case in suite["cases"]}
        self.assertEqual(unused, set(), "exceptions for cases that do not exist")
        self.assertEqual(disagreed, [])
        self.assertEqual(agreed + excepted, len(suite["cases"]))


if __name__ == "__main__":
    unittest.main()
