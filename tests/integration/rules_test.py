"""Transport rules applied by the real `bulwark serve` (issue 5, docs/rules-in-the-server.md):
the "top secret" rule keeps a message in the queue when the next hop offers no TLS and delivers
it over verified TLS when it does; a DMARC-fail rule quarantines (hold/); a disclaimer rule gives
a message that Python's email package and GMime (through `bulwark rules test`) read; reject with
the rule's status at DATA; redirect; add_bcc; route_via; a test-mode rule only records; a message
past the [rules] MIME limits is quarantined. DNS is local data only; the next hops are sinks."""

import email
import email.policy
import json
import os
import subprocess
import tempfile
import time
import unittest

from bulwark_harness import BINARY, BulwarkServer, SmtpConnection
from smtp_sink import SmtpSink
from test_certificates import CertificateFolder

RULES = """
[rules]
mime_max_depth = 3

[[rule]]
name = "Top secret"
[rule.if]
subject_or_body_contains = ["top secret"]
[rule.then]
require_tls = true

[[rule]]
name = "Forbidden words"
[rule.if]
subject_contains = ["forbidden"]
[rule.then]
reject = { code = 550, status = "5.7.1", text = "Forbidden content is not accepted" }

[[rule]]
name = "Disclaimer"
[rule.if]
subject_contains = ["disclaim"]
[rule.then]
disclaimer = { text = "Confidentiel \u2013 usage interne.", signed = "wrap" }

[[rule]]
name = "Redirect"
[rule.if]
subject_contains = ["redirect me"]
[rule.then]
redirect_to = ["review@example.test"]

[[rule]]
name = "Audit copy"
[rule.if]
subject_contains = ["copy me"]
[rule.then]
add_bcc = ["audit@example.test"]

[[rule]]
name = "Through the relay"
[rule.if]
subject_contains = ["route me"]
[rule.then]
route_via = "relay"

[[rule]]
name = "Spoofed"
[rule.if]
dmarc = ["fail"]
[rule.then]
quarantine = "DMARC fail"

[[rule]]
name = "Trial"
mode = "test"
[rule.if]
subject_contains = ["trial"]
[rule.then]
reject = true
"""


def txt_record(name, text):
    return f'{name}. 300 IN TXT "{text}"'


class RulesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certificates = CertificateFolder("bulwark-rules-")
        authority = cls.certificates.authority("rules-ca", "Bulwark Rules Test CA")
        certificate, key = authority.issue("secure-mx", ["mx.secure.test"])
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        cls.clear_sink = SmtpSink()                     # clear.test: no STARTTLS
        # secure.test: STARTTLS with a verifiable name, no REQUIRETLS (as most servers): a rule's
        # require_tls asks for verified TLS on our hop, not for the extension.
        cls.tls_sink = SmtpSink(tls_context=context)
        # ours.test: another node of ours, offering REQUIRETLS: the requirement is passed on.
        cls.requiretls_sink = SmtpSink(extensions=("PIPELINING", "8BITMIME", "REQUIRETLS"),
                                       tls_context=context)
        cls.relay_sink = SmtpSink()                     # the "relay" connector's smart host
        records = [
            "mx.secure.test. 300 IN A 127.0.0.1",
            txt_record("reject.test", "v=spf1 -all"),
            txt_record("_dmarc.reject.test", "v=DMARC1; p=reject"),
        ]
        extra = f"""[delivery]
ca_file = "{authority.certificate}"
dns_records = {json.dumps(records)}

[[send_connector]]
name = "to-clear"
domains = ["clear.test"]
smart_host = "127.0.0.1:{cls.clear_sink.port}"

[[send_connector]]
name = "to-secure"
domains = ["secure.test"]
smart_host = "mx.secure.test:{cls.tls_sink.port}"

[[send_connector]]
name = "to-ours"
domains = ["ours.test"]
smart_host = "mx.secure.test:{cls.requiretls_sink.port}"

[[send_connector]]
name = "relay"
domains = ["relay.invalid"]
smart_host = "127.0.0.1:{cls.relay_sink.port}"
{RULES}"""
        cls.server = BulwarkServer(
            connectors=['name = "submission"\nlisten = "127.0.0.1:0"\ntls = "none"\nauth = false\n'
                        'relay_networks = ["127.0.0.0/8"]',
                        'name = "inbound"\nlisten = "127.0.0.1:0"\ntls = "none"\nauth = false'],
            extra=extra,
            # The rule decides on DMARC failures, not the [authentication] actions.
            authentication='verify = true\ndmarc_reject_action = "none"\n'
                           'dmarc_quarantine_action = "none"')
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        for sink in (cls.clear_sink, cls.tls_sink, cls.requiretls_sink, cls.relay_sink):
            sink.stop()
        cls.certificates.cleanup()

    def send(self, subject, recipients, body="Hello.\r\n", sender="sender@example.test",
             connector="submission", headers="", from_field=None):
        """One transaction; returns (code, lines) of the reply to the end of data."""
        connection = SmtpConnection(self.server.port(connector))
        self.addCleanup(connection.close)
        connection.reply()
        connection.command("EHLO client.test")
        self.assertEqual(connection.command(f"MAIL FROM:<{sender}>")[0], 250)
        for recipient in recipients:
            self.assertEqual(connection.command(f"RCPT TO:<{recipient}>")[0], 250)
        self.assertEqual(connection.command("DATA")[0], 354)
        message = (f"From: {from_field or sender}\r\nTo: {', '.join(recipients)}\r\n"
                   f"Subject: {subject}\r\nMessage-ID: <{time.time()}@client.test>\r\n"
                   f"{headers}\r\n{body}")
        connection.send(message.replace("\r\n.", "\r\n..") + ".\r\n")
        return connection.reply()

    def queue_id(self, lines):
        return lines[0].split()[-1]

    def wait_for(self, predicate, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate():
                return True
            time.sleep(0.1)
        return predicate()

    def sink_messages(self, sink, marker):
        return [(sender, recipients, data) for sender, recipients, data in list(sink.messages)
                if marker.encode() in data]

    def received_detail(self, queue_id):
        events = self.server.wait_trace(lambda e: any(x["status"] == "received" for x in e),
                                        "--queue-id", queue_id)
        return next(x for x in events if x["status"] == "received")["detail"]

    # --- require TLS -----------------------------------------------------------------------

    def test_top_secret_waits_when_the_next_hop_offers_no_tls(self):
        code, lines = self.send("Quarterly plan", ["someone@clear.test"],
                                body="This is top secret material.\r\n")
        self.assertEqual(code, 250, lines)
        queue_id = self.queue_id(lines)
        events = self.server.wait_trace(lambda e: any(x["status"] == "deferred" for x in e),
                                        "--queue-id", queue_id)
        deferred = [x for x in events if x["status"] == "deferred"]
        self.assertTrue(deferred, events)
        self.assertIn("TLS", deferred[0]["detail"])
        self.assertIn(queue_id, self.server.queue_files("deferred"))
        self.assertFalse(self.sink_messages(self.clear_sink, "top secret material"),
                         "a message that requires TLS reached a next hop in clear")
        detail = self.received_detail(queue_id)
        self.assertIn('rule="Top secret" mode=enforce matched: ', detail)
        show = subprocess.run([BINARY, "queue", "show", queue_id, "--config",
                               self.server.config_path], capture_output=True, text=True)
        self.assertRegex(show.stdout, r"rule requires tls:\s+yes")
        self.assertRegex(show.stdout, r"requiretls:\s+no", "the client did not ask for RFC 8689")

    def test_top_secret_is_delivered_over_verified_tls_when_offered(self):
        code, lines = self.send("Top secret: the merger", ["someone@secure.test"])
        self.assertEqual(code, 250, lines)
        self.assertTrue(self.wait_for(lambda: self.sink_messages(self.tls_sink, "the merger")),
                        self.server.trace("--queue-id", self.queue_id(lines)))
        index = next(i for i, (_, _, data) in enumerate(self.tls_sink.messages)
                     if b"the merger" in data)
        self.assertTrue(self.tls_sink.encrypted[index])
        self.assertNotIn("REQUIRETLS", self.tls_sink.messages[index][0],
                         "not offered by that host, so not asked of it")
        events = self.server.trace("--queue-id", self.queue_id(lines))
        attempt = next(x for x in events if x["status"] == "attempt")
        self.assertIn("required=verify", attempt["detail"])

    def test_top_secret_passes_the_requirement_on_where_requiretls_is_offered(self):
        code, lines = self.send("Top secret: the budget", ["someone@ours.test"])
        self.assertEqual(code, 250, lines)
        self.assertTrue(self.wait_for(lambda: self.sink_messages(self.requiretls_sink, "the budget")),
                        self.server.trace("--queue-id", self.queue_id(lines)))
        index = next(i for i, (_, _, data) in enumerate(self.requiretls_sink.messages)
                     if b"the budget" in data)
        self.assertTrue(self.requiretls_sink.encrypted[index])
        self.assertIn("REQUIRETLS", self.requiretls_sink.messages[index][0],
                      "our next node keeps the requirement (RFC 8689)")

    def test_without_the_words_the_same_route_delivers_in_clear(self):
        code, lines = self.send("Ordinary plan", ["someone@clear.test"], body="Nothing here.\r\n")
        self.assertEqual(code, 250, lines)
        self.assertTrue(self.wait_for(lambda: self.sink_messages(self.clear_sink, "Ordinary plan")),
                        "the control message should reach the sink: the test can tell")

    # --- refusals and quarantine -----------------------------------------------------------

    def test_reject_with_the_rules_status_at_data(self):
        code, lines = self.send("forbidden topic", ["someone@clear.test"])
        self.assertEqual(code, 550)
        self.assertEqual(lines[0], "550 5.7.1 Forbidden content is not accepted")
        self.assertNotIn("Forbidden words", " ".join(lines), "the rule name stays internal")

    def test_dmarc_fail_rule_quarantines(self):
        code, lines = self.send("invoice", ["alice@example.test"], sender="billing@reject.test",
                                connector="inbound")
        self.assertEqual(code, 250, lines)
        queue_id = self.queue_id(lines)
        self.assertTrue(self.wait_for(lambda: queue_id in self.server.queue_files("hold")))
        events = self.server.wait_trace(lambda e: any(x["status"] == "quarantined" for x in e),
                                        "--queue-id", queue_id)
        held = next(x for x in events if x["status"] == "quarantined")
        self.assertIn("Spoofed", held["detail"])
        self.assertFalse(self.server.delivered("alice"))

    def test_test_mode_records_but_does_not_act(self):
        code, lines = self.send("trial run", ["someone@clear.test"])
        self.assertEqual(code, 250, lines)
        detail = self.received_detail(self.queue_id(lines))
        self.assertIn('rule="Trial" mode=test matched: ', detail)
        self.assertIn(" would: ", detail)
        self.assertTrue(self.wait_for(lambda: self.sink_messages(self.clear_sink, "trial run")))

    def test_message_past_the_mime_limits_is_quarantined(self):
        body = "deep text\r\n"
        headers = ""
        for level in range(6, 0, -1):
            boundary = f"b{level}"
            inner = ("Content-Type: text/plain\r\n\r\n" if level == 6 else "") + body
            body = f"--{boundary}\r\n{inner}\r\n--{boundary}--\r\n"
            if level > 1:
                body = f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n' + body
            else:
                headers = (f'MIME-Version: 1.0\r\n'
                           f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n')
        code, lines = self.send("nested", ["someone@clear.test"], body=body, headers=headers)
        self.assertEqual(code, 250, lines)
        queue_id = self.queue_id(lines)
        self.assertTrue(self.wait_for(lambda: queue_id in self.server.queue_files("hold")))
        self.assertIn("unparseable_action=quarantine", self.received_detail(queue_id))

    # --- recipients and routes -------------------------------------------------------------

    def test_redirect_replaces_the_recipients(self):
        code, lines = self.send("please redirect me", ["someone@clear.test"])
        self.assertEqual(code, 250, lines)
        self.assertTrue(self.wait_for(lambda: any(b"please redirect me" in m
                                                  for m in self.server.delivered("review"))))
        time.sleep(0.5)
        self.assertFalse(self.sink_messages(self.clear_sink, "please redirect me"))

    def test_add_bcc_adds_an_envelope_recipient_only(self):
        code, lines = self.send("copy me please", ["someone@clear.test"])
        self.assertEqual(code, 250, lines)
        self.assertTrue(self.wait_for(lambda: any(b"copy me please" in m
                                                  for m in self.server.delivered("audit"))))
        self.assertTrue(self.wait_for(lambda: self.sink_messages(self.clear_sink, "copy me please")))
        data = self.sink_messages(self.clear_sink, "copy me please")[0][2]
        self.assertNotIn(b"audit@example.test", data)

    def test_route_via_uses_the_named_connector_whatever_the_domain(self):
        code, lines = self.send("route me there", ["someone@clear.test"])
        self.assertEqual(code, 250, lines)
        self.assertTrue(self.wait_for(lambda: self.sink_messages(self.relay_sink, "route me")))
        self.assertFalse(self.sink_messages(self.clear_sink, "route me"))

    # --- disclaimer ------------------------------------------------------------------------

    def test_disclaimer_output_parses_in_python_and_gmime(self):
        body = ("--alt\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9 au lait\r\n"
                "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
                "<html><body><p>caf\u00e9</p></body></html>\r\n--alt--\r\n")
        headers = 'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="alt"\r\n'
        code, lines = self.send("please disclaim", ["someone@clear.test"], body=body,
                                headers=headers)
        self.assertEqual(code, 250, lines)
        self.assertTrue(self.wait_for(lambda: self.sink_messages(self.clear_sink, "disclaim")))
        data = self.sink_messages(self.clear_sink, "please disclaim")[0][2]
        message = email.message_from_bytes(data, policy=email.policy.default)
        self.assertEqual([], [d for part in message.walk() for d in part.defects])
        plain = message.get_body(preferencelist=("plain",)).get_content()
        html = message.get_body(preferencelist=("html",)).get_content()
        self.assertIn("café au lait", plain)
        self.assertIn("Confidentiel \u2013 usage interne.", plain)
        self.assertLess(html.index("usage interne"), html.index("</body>"))
        # GMime (the server's own MIME view) reads the disclaimer as body text.
        with tempfile.TemporaryDirectory() as folder:
            message_file = os.path.join(folder, "out.eml")
            rules_file = os.path.join(folder, "check.toml")
            with open(message_file, "wb") as handle:
                handle.write(data)
            with open(rules_file, "w") as handle:
                handle.write('[[rule]]\nname = "sees it"\n[rule.if]\n'
                             'subject_or_body_contains = ["usage interne", "caf\u00e9 au lait"]\n'
                             '[rule.then]\nset_spam = true\n')
            result = subprocess.run([BINARY, "rules", "test", "--rules", rules_file, message_file,
                                     "--json"], capture_output=True, text=True)
            self.assertEqual(result.returncode, 0, result.stderr)
            report = json.loads(result.stdout)
            self.assertEqual(report["facts"]["mime_status"], "ok", report["facts"])
            self.assertEqual([m["rule"] for m in report["matches"]], ["sees it"])
            self.assertEqual(len(report["matches"][0]["reasons"]), 1)


if __name__ == "__main__":
    unittest.main()
