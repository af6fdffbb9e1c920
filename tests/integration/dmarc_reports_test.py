"""DMARC aggregate reports through the real `bulwark serve` (issue 4 item 4, docs/dmarc-reports.md):
mail from a domain whose DMARC record asks for reports (rua=) at another organization is
evaluated by the authentication stage, counted, and when the (one-minute) period ends the report
goes through a send connector to an SMTP sink: RFC 7489 7.2.1.1 subject and file name, the gzipped
XML with the message's count, source address, disposition and the policy as published. A second
domain whose report mailbox never authorised it (no <domain>._report._dmarc record, 7.1) gets no
report, and the log says why. DNS is local data only (.test names never leave the host)."""

import base64
import os
import subprocess
import email
import re
import email.policy
import gzip
import json
import time
import unittest
import xml.etree.ElementTree as ElementTree

from bulwark_harness import BINARY, BulwarkServer, SmtpConnection, simple_message
from smtp_sink import SmtpSink

# A period is one minute; the report follows its end within a few seconds.
REPORT_TIMEOUT = 150


def txt_record(name, text):
    return f'{name}. 300 IN TXT "{text}"'


class DmarcReportsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sink = SmtpSink()
        records = [
            txt_record("sender.test", "v=spf1 ip4:127.0.0.1 -all"),
            txt_record("_dmarc.sender.test", "v=DMARC1; p=none; rua=mailto:reports@reports.test"),
            # RFC 7489 7.1: reports.test accepts reports about sender.test.
            txt_record("sender.test._report._dmarc.reports.test", "v=DMARC1"),
            txt_record("unauthorised.test", "v=spf1 ip4:127.0.0.1 -all"),
            txt_record("_dmarc.unauthorised.test",
                       "v=DMARC1; p=quarantine; rua=mailto:reports@reports.test"),
        ]
        extra = "\n".join([
            "[delivery]",
            "dns_records = " + json.dumps(records),
            "",
            "[[send_connector]]",
            'name = "reports"',
            'domains = ["reports.test"]',
            f'smart_host = "127.0.0.1:{cls.sink.port}"',
            'tls = "none"',
            "",
            "[dmarc_reports]",
            "enabled = true",
            "interval_seconds = 60",
            'organization_name = "example.test"',
            'contact = "https://example.test/dmarc"',
            "",
        ])
        cls.server = BulwarkServer(
            connectors=['name = "inbound"\nlisten = "127.0.0.1:0"\ntls = "none"\nauth = false'],
            extra=extra, authentication='verify = true\ndmarc_quarantine_action = "none"')
        cls.server.write_config()
        # The report's From domain has a key: reports are signed like our users' mail.
        keygen = subprocess.run([BINARY, "dkim", "keygen", "mx.example.test", "reports", "--type",
                                 "ed25519", "--config", cls.server.config_path],
                                capture_output=True, text=True)
        assert keygen.returncode == 0, keygen.stderr
        cls.report_key = os.path.join(cls.server.data_dir, "dkim", "mx.example.test",
                                      "reports.key")
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.sink.running = False
        cls.sink.listener.close()

    def verified_by_dkimpy(self, raw):
        der = subprocess.run(["openssl", "pkey", "-in", self.report_key, "-pubout", "-outform",
                              "DER"], capture_output=True, check=True).stdout
        record = "v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:]).decode()
        script = ("import dkim, sys\n"
                  "record = sys.argv[1].encode()\n"
                  "dns = lambda name, timeout=5: record\n"
                  "print(dkim.verify(sys.stdin.buffer.read(), dnsfunc=dns))\n")
        result = subprocess.run(["/usr/bin/python3", "-c", script, record], input=raw,
                                capture_output=True, check=True)
        return result.stdout.strip() == b"True"

    def send(self, sender, subject):
        connection = SmtpConnection(self.server.port("inbound"))
        try:
            self.assertEqual(220, connection.reply()[0])
            self.assertEqual(250, connection.command("EHLO client.sender.test")[0])
            self.assertEqual(250, connection.command(f"MAIL FROM:<{sender}>")[0])
            self.assertEqual(250, connection.command("RCPT TO:<alice@example.test>")[0])
            self.assertEqual(354, connection.command("DATA")[0])
            connection.send(simple_message(subject=subject, sender=sender).encode() + b".\r\n")
            code, lines = connection.reply()
            self.assertEqual(250, code, lines)
            connection.command("QUIT")
        finally:
            connection.close()

    def reports_for(self, domain):
        found = []
        for sender, recipients, data in list(self.sink.messages):
            message = email.message_from_bytes(data, policy=email.policy.default)
            if f"Report Domain: {domain} " in str(message["Subject"]):
                found.append((sender, recipients, message))
        return found

    def test_report_reaches_the_authorised_mailbox_and_not_the_other(self):
        self.send("news@sender.test", "counted")
        self.send("news@unauthorised.test", "not reported")
        deadline = time.time() + REPORT_TIMEOUT
        while time.time() < deadline and not self.reports_for("sender.test"):
            time.sleep(0.5)
        reports = self.reports_for("sender.test")
        self.assertEqual(1, len(reports), "\n".join(self.server.log_lines[-30:]))
        sender, recipients, message = reports[0]
        raw = next(data for _, _, data in self.sink.messages if b"Report Domain: sender.test" in data)
        self.assertIn(b"d=mx.example.test", raw.split(b"\r\n\r\n", 1)[0])
        self.assertTrue(self.verified_by_dkimpy(raw), "the report's signature verifies")
        # The sink keeps the MAIL and RCPT arguments as sent: "<address> PARAMETERS".
        address = lambda argument: re.match(r"<([^>]*)>", argument).group(1)
        self.assertEqual("noreply-dmarc@mx.example.test", address(sender))
        self.assertEqual(["reports@reports.test"], [address(r) for r in recipients])
        self.assertEqual("reports@reports.test", str(message["To"]))
        self.assertRegex(str(message["Subject"]),
                         r"^Report Domain: sender\.test Submitter: example\.test "
                         r"Report-ID: <\d+\.sender\.test@mx\.example\.test>$")
        attachments = [part for part in message.iter_attachments()]
        self.assertEqual(1, len(attachments))
        attachment = attachments[0]
        self.assertEqual("application/gzip", attachment.get_content_type())
        self.assertRegex(attachment.get_filename(),
                         r"^mx\.example\.test!sender\.test!\d+!\d+\.xml\.gz$")
        root = ElementTree.fromstring(gzip.decompress(attachment.get_content()))
        self.assertEqual("feedback", root.tag)
        self.assertEqual("example.test", root.findtext("report_metadata/org_name"))
        self.assertEqual("https://example.test/dmarc",
                         root.findtext("report_metadata/extra_contact_info"))
        begin = int(root.findtext("report_metadata/date_range/begin"))
        end = int(root.findtext("report_metadata/date_range/end"))
        self.assertEqual(0, begin % 60)
        self.assertEqual(begin + 59, end)
        self.assertIn(f"!{begin}!{end}.xml.gz", attachment.get_filename())
        self.assertEqual("sender.test", root.findtext("policy_published/domain"))
        self.assertEqual("none", root.findtext("policy_published/p"))
        self.assertEqual("100", root.findtext("policy_published/pct"))
        records = root.findall("record")
        self.assertEqual(1, len(records), gzip.decompress(attachment.get_content()).decode())
        row = records[0]
        self.assertEqual("127.0.0.1", row.findtext("row/source_ip"))
        self.assertEqual("1", row.findtext("row/count"))
        self.assertEqual("none", row.findtext("row/policy_evaluated/disposition"))
        self.assertEqual("pass", row.findtext("row/policy_evaluated/spf"))
        self.assertEqual("sender.test", row.findtext("identifiers/header_from"))
        self.assertEqual("sender.test", row.findtext("auth_results/spf/domain"))
        self.assertEqual("pass", row.findtext("auth_results/spf/result"))

        # unauthorised.test is refused when its period ends, with the reason in the log.
        deadline = time.time() + REPORT_TIMEOUT
        refusal = []
        while time.time() < deadline and not refusal:
            refusal = [line for line in self.server.log_lines
                       if "report for unauthorised.test not sent to <reports@reports.test>" in line]
            time.sleep(0.2)
        self.assertTrue(refusal, "\n".join(self.server.log_lines[-30:]))
        self.assertIn("unauthorised.test._report._dmarc.reports.test", refusal[0])
        self.assertEqual([], self.reports_for("unauthorised.test"))
        # The report went through the queue like any message: its trace says what it is.
        events = self.server.wait_trace(
            lambda events: any("dmarc report for sender.test" in e.get("detail", "")
                               for e in events))
        expected = "dmarc report for sender.test, dkim_signed=mx.example.test"
        self.assertTrue(any(e["status"] == "received" and e.get("detail", "") == expected
                            for e in events), events)


if __name__ == "__main__":
    unittest.main()
