"""`bulwark rules test` (docs/rules.md) with the issue's rules ("top secret" needs TLS, a disclaimer
for external recipients, DMARC failures claiming our domain quarantined, a test-mode rule) on
message files written here: plain, multipart with an attachment, HTML only, a base64 body, an
RFC 2047 subject, and words hidden inside other words that must not match. Then `bulwark config
check` reporting broken rules with file, line and column, and a SIGHUP with a broken rule file
that keeps the server running on its old rules."""

import base64
import email
import email.policy
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from bulwark_harness import BINARY, BulwarkServer, SmtpConnection

CONFIG = """data_dir = "{data_dir}"
hostname = "mx.example.test"

[[local_domain]]
name = "example.test"

[rules]
internal_domains = ["branch.test"]
"""

RULES = """# The issue's policies.
[[rule]]
name = "Top secret leaves over TLS only"
priority = 10
[rule.if]
subject_or_body_contains = ["top secret"]
[rule.then]
require_tls = true

[[rule]]
name = "Disclaimer for external recipients"
priority = 20
[rule.if]
to_scope = "outside"
[rule.then]
disclaimer = {{ text = "{disclaimer}" }}

[[rule]]
name = "Spoofed own domain"
priority = 5
stop = true
[rule.if]
from_domain = ["example.test"]
dmarc = ["fail"]
[rule.unless]
authenticated_sender = true
[rule.then]
quarantine = "DMARC fail claiming example.test"

[[rule]]
name = "Trial: executables"
priority = 30
mode = "test"
[rule.if]
attachment_extension = ["exe"]
[rule.then]
prepend_subject = "[EXE] "
"""

DISCLAIMER = "This message is confidential. Disclaimer 7f3a."

PLAIN = ("From: Anna <anna@example.test>\r\nTo: partner@outside.test\r\n"
         "Subject: Quarterly plan\r\nMessage-ID: <plain@example.test>\r\n"
         "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n"
         "The figures are Top  Secret until Friday.\r\n")

MULTIPART = ("From: anna@example.test\r\nTo: bob@example.test\r\nSubject: Invoice\r\n"
             "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
             "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease pay.\r\n"
             "--b1\r\nContent-Type: application/octet-stream\r\n"
             "Content-Disposition: attachment; filename=\"invoice.exe\"\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\n"
             + base64.b64encode(b"MZ\x90\x00" + b"\x00" * 60).decode() + "\r\n--b1--\r\n")

HTML_ONLY = ("From: anna@example.test\r\nTo: bob@example.test\r\nSubject: Notes\r\n"
             "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
             "<html><body><p>This is <b>top</b>\r\n<i>secret</i>.</p></body></html>\r\n")

BASE64_BODY = ("From: anna@example.test\r\nTo: bob@example.test\r\nSubject: Encoded\r\n"
               "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Transfer-Encoding: base64\r\n\r\n"
               + base64.b64encode("Strictly TOP SECRET: do not forward.\n".encode()).decode()
               + "\r\n")

ENCODED_SUBJECT = ("From: anna@example.test\r\nTo: bob@example.test\r\n"
                   "Subject: =?UTF-8?B?" + base64.b64encode("Ärger: top secret".encode()).decode()
                   + "?=\r\n\r\nNothing to see here.\r\n")

# "top secret" appears only inside other words: a whole-word match must not fire.
INSIDE_WORDS = ("From: anna@example.test\r\nTo: bob@example.test\r\nSubject: laptop secrets\r\n"
                "\r\nPlease stop secretly copying the desktop secretary's notes.\r\n")

SPOOFED = ("From: ceo@example.test\r\nTo: bob@example.test\r\nSubject: Urgent transfer\r\n"
           "\r\nPay now.\r\n")


def rules_test(*arguments):
    return subprocess.run([BINARY, "rules", "test", *arguments], capture_output=True, text=True,
                          timeout=60)


class RulesTestCommandTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="bulwark-rules-")
        self.addCleanup(shutil.rmtree, self.folder, True)
        self.config = self.write("bulwark.toml", CONFIG.format(data_dir=self.folder))
        self.rules = self.write("rules.toml", RULES.format(disclaimer=DISCLAIMER))

    def write(self, name, text):
        path = os.path.join(self.folder, name)
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        return path

    def run_message(self, name, text, *arguments):
        path = self.write(name, text)
        return rules_test("--rules", self.rules, "--config", self.config, path, *arguments)

    def run_json(self, name, text, *arguments):
        result = self.run_message(name, text, "--json", *arguments)
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)

    def matched(self, report):
        return [match["rule"] for match in report["matches"]]

    def test_plain_message_to_a_partner_explains_tls_and_disclaimer(self):
        result = self.run_message("plain.eml", PLAIN)
        self.assertEqual(result.returncode, 0, result.stderr)
        out = result.stdout
        # Evaluation order is priority order: 5, 10, 20, 30.
        self.assertRegex(out, r'1\. "Spoofed own domain" \(priority 5, enforce\): no match')
        self.assertRegex(out, r'2\. "Top secret leaves over TLS only" \(priority 10, enforce\): '
                              r'matched\n +because .*top secret')
        self.assertRegex(out, r'3\. "Disclaimer for external recipients" \(priority 20, '
                              r'enforce\): matched\n +because .*outside')
        self.assertRegex(out, r'4\. "Trial: executables" \(priority 30, test\): no match')
        self.assertIn("TLS required for outbound delivery: yes", out)
        self.assertIn("recipients: partner@outside.test", out)
        self.assertIn("envelope: from anna@example.test (inside); to partner@outside.test "
                      "(outside)", out)
        # The message changed, so it is shown, with the disclaimer after the original text.
        self.assertIn("--- message as it would leave the rules ---", out)
        shown = out.split("--- message as it would leave the rules ---\n", 1)[1]
        self.assertLess(shown.index("Top  Secret until Friday."), shown.index(DISCLAIMER))

        quiet = self.run_message("plain.eml", PLAIN, "--no-show-message")
        self.assertEqual(quiet.returncode, 0, quiet.stderr)
        self.assertNotIn("--- message as it would leave the rules ---", quiet.stdout)
        self.assertIn("matched", quiet.stdout)

    def test_json_has_matches_changes_and_a_message_that_still_parses(self):
        report = self.run_json("plain.eml", PLAIN)
        self.assertEqual(self.matched(report), ["Top secret leaves over TLS only",
                                                "Disclaimer for external recipients"])
        first = report["matches"][0]
        self.assertEqual(first["mode"], "enforce")
        self.assertTrue(any("top secret" in reason.lower() for reason in first["reasons"]))
        self.assertEqual(len(first["actions"]), 1)
        self.assertTrue(report["changes"]["require_tls"])
        self.assertEqual(report["result"]["verdict"], "deliver")
        self.assertTrue(report["result"]["require_tls"])
        self.assertEqual(report["result"]["recipients"], ["partner@outside.test"])
        self.assertIsNone(report["changes"]["quarantine"])
        self.assertEqual(report["changes"]["disclaimer"]["text"], DISCLAIMER)
        self.assertTrue(report["message_changed"])
        results = {rule["name"]: rule["result"] for rule in report["rules"]}
        self.assertEqual(results["Spoofed own domain"], "no match")
        self.assertEqual(results["Trial: executables"], "no match")
        parsed = email.message_from_string(report["message"], policy=email.policy.default)
        self.assertEqual(parsed["Subject"], "Quarterly plan")
        body = parsed.get_body(("plain",)).get_content()
        self.assertIn("Top  Secret until Friday.", body)
        self.assertIn(DISCLAIMER, body)

    def test_an_internal_recipient_gets_no_disclaimer_and_the_message_is_unchanged(self):
        # branch.test is inside through [rules] internal_domains.
        report = self.run_json("plain.eml", PLAIN, "--to", "carl@branch.test")
        self.assertEqual(self.matched(report), ["Top secret leaves over TLS only"])
        self.assertFalse(report["message_changed"])
        self.assertIsNone(report["message"])  # unchanged: not shown unless --show-message
        shown = self.run_json("plain.eml", PLAIN, "--to", "carl@branch.test", "--show-message")
        self.assertEqual(shown["message"], PLAIN)

    def test_the_word_is_found_in_every_encoding_and_not_inside_other_words(self):
        for name, text in (("html.eml", HTML_ONLY), ("base64.eml", BASE64_BODY),
                           ("subject.eml", ENCODED_SUBJECT)):
            with self.subTest(name):
                report = self.run_json(name, text)
                self.assertEqual(self.matched(report), ["Top secret leaves over TLS only"])
                self.assertTrue(report["changes"]["require_tls"])
                reasons = " ".join(report["matches"][0]["reasons"]).lower()
                self.assertIn("top secret", reasons)
        report = self.run_json("inside.eml", INSIDE_WORDS)
        self.assertEqual(self.matched(report), [])
        self.assertFalse(report["changes"]["require_tls"])
        self.assertEqual(report["rules"][1]["name"], "Top secret leaves over TLS only")
        self.assertEqual(report["rules"][1]["result"], "no match")
        self.assertEqual(report["rules"][1]["failed_condition"], "subject_or_body_contains")

    def test_test_mode_rule_says_what_it_would_do_and_does_nothing(self):
        result = self.run_message("invoice.eml", MULTIPART)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r'"Trial: executables" \(priority 30, test\): would '
                                        r'match \(test mode: nothing is done\)\n +because .*exe')
        self.assertRegex(result.stdout, r"\n +would +.*\[EXE\]")
        self.assertIn("  message: unchanged", result.stdout)
        report = self.run_json("invoice.eml", MULTIPART)
        self.assertEqual(self.matched(report), ["Trial: executables"])
        self.assertEqual(report["matches"][0]["mode"], "test")
        self.assertEqual(report["changes"]["subject_prefix"], "")
        self.assertFalse(report["message_changed"])

    def test_dmarc_failure_claiming_our_domain_is_quarantined_and_stops(self):
        result = self.run_message("spoofed.eml", SPOOFED, "--dmarc", "fail",
                                  "--client", "192.0.2.7")
        self.assertEqual(result.returncode, 0, result.stderr)
        out = result.stdout
        self.assertRegex(out, r'1\. "Spoofed own domain" \(priority 5, enforce\): matched\n'
                              r'( +because .*\n){2}')
        self.assertIn("stop processing: later rules are not evaluated", out)
        self.assertRegex(out, r'"Disclaimer for external recipients" .*: not evaluated '
                              r'\("Spoofed own domain" stopped processing\)')
        self.assertRegex(out, r'\n  quarantine: .*"Spoofed own domain".*DMARC fail claiming '
                              r'example\.test\n')
        self.assertNotIn("--- message as it would leave the rules ---", out)
        # The same message from an authenticated user: the exception vetoes the rule.
        report = self.run_json("spoofed.eml", SPOOFED, "--dmarc", "fail", "--authenticated")
        self.assertEqual(self.matched(report), [])
        self.assertEqual(report["rules"][0]["result"], "excepted")
        self.assertEqual(len(report["rules"][0]["reasons"]), 2)
        self.assertIn("authenticated", report["rules"][0]["exception"])
        self.assertEqual(report["result"]["verdict"], "deliver")
        # And DMARC pass is no match at all.
        report = self.run_json("spoofed.eml", SPOOFED, "--dmarc", "pass")
        self.assertEqual(self.matched(report), [])
        self.assertEqual(report["rules"][0]["failed_condition"], "dmarc")

    def test_a_message_past_the_mime_limits_gets_unparseable_action(self):
        nested = "Top secret, three levels down.\r\n"
        for level in range(3):
            nested = (f"Content-Type: multipart/mixed; boundary=\"n{level}\"\r\n\r\n"
                      f"--n{level}\r\n" + ("Content-Type: text/plain\r\n\r\n" if level == 0
                                           else "") + nested + f"\r\n--n{level}--\r\n")
        text = ("From: anna@example.test\r\nTo: partner@outside.test\r\nSubject: deep\r\n"
                "MIME-Version: 1.0\r\n" + nested)
        with open(self.config, "a") as handle:
            handle.write("mime_max_depth = 2\n")  # the config ends in its [rules] table
        report = self.run_json("deep.eml", text)
        self.assertIn("mime_max_depth 2", report["facts"]["unreadable"])
        self.assertEqual(report["result"]["verdict"], "quarantine")
        self.assertEqual(report["rules"], [])  # the server does not run the rules on it
        self.assertFalse(report["result"]["require_tls"])

        with open(self.config, "a") as handle:
            handle.write('unparseable_action = "deliver"\n')
        report = self.run_json("deep.eml", text)
        self.assertEqual(report["result"]["verdict"], "deliver")
        self.assertIn("Disclaimer for external recipients", self.matched(report))
        text_output = self.run_message("deep.eml", text).stdout
        self.assertIn("the server applies [rules] unparseable_action before the rules: MIME past "
                      "the [rules] limits", text_output)

    def test_envelope_options_override_the_message_fields(self):
        report = self.run_json("plain.eml", PLAIN, "--from", "<>", "--to",
                               "x@outside.test,y@example.test", "--to", "<z@branch.test>",
                               "--tls", "--spf", "pass", "--dkim", "pass")
        facts = report["facts"]
        self.assertEqual(facts["sender"], "")
        self.assertEqual(facts["from_address"], "anna@example.test")
        self.assertEqual(facts["recipients"], ["x@outside.test", "y@example.test",
                                               "z@branch.test"])
        self.assertTrue(facts["received_over_tls"])
        self.assertEqual((facts["spf"], facts["dkim"], facts["dmarc"]), ("pass", "pass", "none"))

    def test_usage_errors_exit_2(self):
        message = self.write("nobody.eml", "From: a@example.test\r\nSubject: x\r\n\r\nhi\r\n")
        cases = [
            ([message], "--rules FILE"),                                   # no rules at all
            (["--rules", self.rules, message], "--to"),                    # no recipient
            (["--rules", self.rules, os.path.join(self.folder, "missing.eml")], "cannot read"),
            (["--rules", self.rules, message, "--to", "not-an-address"], "not an address"),
            (["--rules", self.rules, message, "--to", "a@b.test", "--dmarc", "maybe"], "dmarc"),
            (["--rules", self.rules, message, "--to", "a@b.test", "--client", "host"], "IP"),
        ]
        for arguments, expected in cases:
            with self.subTest(arguments=arguments):
                result = rules_test(*arguments)
                self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
                self.assertIn(expected, result.stderr)

    def test_rule_problems_exit_1_with_file_line_and_column(self):
        broken = self.write("broken.toml", '[[rule]]\nname = "x"\n[rule.if]\n'
                                           'subject_contain = ["a"]\n[rule.then]\n'
                                           'require_tls = true\n')
        message = self.write("plain.eml", PLAIN)
        result = rules_test("--rules", broken, message)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(broken + ":4:1: ", result.stderr)
        self.assertIn("subject_contains", result.stderr)  # the "did you mean"
        self.assertEqual(result.stdout, "")

    def test_rules_come_from_the_configuration_without_rules_option(self):
        with open(self.config, "a") as handle:
            handle.write('\n[[rule]]\nname = "Everything tagged"\n[rule.then]\n'
                         'prepend_subject = "[ext] "\n')
        message = self.write("plain.eml", PLAIN)
        report = json.loads(rules_test("--config", self.config, message, "--json").stdout)
        self.assertEqual(self.matched(report), ["Everything tagged"])
        self.assertEqual(report["changes"]["subject_prefix"], "[ext] ")
        parsed = email.message_from_string(report["message"], policy=email.policy.default)
        self.assertEqual(parsed["Subject"], "[ext] Quarterly plan")


class ConfigCheckRulesTest(unittest.TestCase):
    """`bulwark config check` loads the rules of the configuration and of its [rules] files."""

    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="bulwark-rules-check-")
        self.addCleanup(shutil.rmtree, self.folder, True)

    def write(self, name, text):
        path = os.path.join(self.folder, name)
        with open(path, "w") as handle:
            handle.write(text)
        return path

    def check(self, path):
        return subprocess.run([BINARY, "config", "check", path], capture_output=True, text=True,
                              timeout=60)

    def test_good_rules_are_counted(self):
        rules = self.write("rules.toml", RULES.format(disclaimer=DISCLAIMER))
        config = self.write("bulwark.toml", CONFIG.format(data_dir=self.folder).replace(
            "[rules]\n", f'[rules]\nfiles = ["{rules}"]\n'))
        result = self.check(config)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, f"{config}: OK (4 transport rules, 1 in test mode)\n")

    def test_broken_rules_are_reported_with_line_and_column(self):
        # Line numbers below are those of this text; columns point at the key or the value.
        rules = self.write("broken.toml", "\n".join([
            '[[rule]]',                                   # 1
            'name = "bad pattern"',                       # 2
            '[rule.if]',                                  # 3
            'subject_matches = ["(unclosed"]',            # 4: the string starts at column 20
            '[rule.then]',                                # 5
            'require_tls = true',                         # 6
            '',                                           # 7
            '[[rule]]',                                   # 8
            'name = "unknown condition"',                 # 9
            '[rule.if]',                                  # 10
            'subjekt_contains = ["x"]',                   # 11: the key at column 1
            '[rule.then]',                                # 12
            'require_tls = true',                         # 13
            '',                                           # 14
            '[[rule]]',                                   # 15
            'name = "unknown connector"',                 # 16
            '[rule.then]',                                # 17
            'route_via = "nowhere"',                      # 18: the value at column 13
            '']))
        config = self.write("bulwark.toml", CONFIG.format(data_dir=self.folder).replace(
            "[rules]\n", '[rules]\nfiles = ["broken.toml"]\n') +
            '\n[[send_connector]]\nname = "partners"\ndomains = ["partner.test"]\n')
        result = self.check(config)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        lines = result.stderr.splitlines()
        self.assertTrue(any(line.startswith(rules + ":4:20: ") for line in lines), result.stderr)
        self.assertTrue(any(line.startswith(rules + ":11:1: ") and "subject_contains" in line
                            for line in lines), result.stderr)
        self.assertTrue(any(line.startswith(rules + ":18:13: ") and "nowhere" in line
                            and "partners" in line for line in lines), result.stderr)
        self.assertEqual(lines[-1], f"{config}: 3 problems")
        self.assertEqual(result.stdout, "")


class ReloadRulesTest(unittest.TestCase):
    """SIGHUP checks the rules like the configuration: broken rules are refused and the server
    keeps running on the rules it had."""

    def test_a_broken_rule_file_keeps_the_old_rules(self):
        folder = tempfile.mkdtemp(prefix="bulwark-rules-reload-")
        self.addCleanup(shutil.rmtree, folder, True)
        rules = os.path.join(folder, "rules.toml")
        with open(rules, "w") as handle:
            handle.write('[[rule]]\nname = "tag"\n[rule.then]\nprepend_subject = "[old] "\n')
        server = BulwarkServer(extra=f'[rules]\nfiles = ["{rules}"]\n')
        server.start()
        self.addCleanup(server.cleanup)
        port = server.port()

        with open(rules, "w") as handle:
            handle.write('[[rule]]\nname = "tag"\n[rule.if]\nsubject_matches = ["("]\n'
                         '[rule.then]\nprepend_subject = "[new] "\n')
        server.process.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while not any("the running configuration stays" in line for line in server.log_lines):
            self.assertLess(time.time(), deadline, "\n".join(server.log_lines))
            time.sleep(0.05)
        self.assertTrue(any(rules + ":4:" in line for line in server.log_lines),
                        "\n".join(server.log_lines))
        self.assertIsNone(server.process.poll())

        connection = SmtpConnection(port)
        try:
            self.assertEqual(connection.reply()[0], 220)
            self.assertEqual(connection.command("EHLO client.test")[0], 250)
            self.assertEqual(connection.command("MAIL FROM:<sender@remote.test>")[0], 250)
            self.assertEqual(connection.command("RCPT TO:<anna@example.test>")[0], 250)
            self.assertEqual(connection.command("DATA")[0], 354)
            self.assertEqual(connection.command(
                "From: sender@remote.test\r\nSubject: still here\r\n\r\nbody\r\n.")[0], 250)
        finally:
            connection.close()
        delivered = server.wait_delivered("anna", 1)
        self.assertEqual(len(delivered), 1)
        self.assertIn(b"Subject: [old] still here", delivered[0])


if __name__ == "__main__":
    unittest.main()
