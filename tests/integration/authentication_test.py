"""Sender authentication through the real `bulwark serve` (issue 4, docs/authentication.md): SPF
at MAIL FROM, DKIM verification (mail signed by dkimpy), DMARC with its policies applied as
configured (reject 550 5.7.1, quarantine into hold/, a local policy marking p=none failures as
spam, a per-domain override), ambiguous From refused, one Authentication-Results header with
forged ones under our authserv-id removed, and outbound DKIM signing of our users' mail with
keys made by `bulwark dkim keygen` (RSA and Ed25519 at once), verified by dkimpy, with a key
added while the server runs. DNS is local data only (.test names never leave the host)."""

import base64
import json
import os
import shutil
import smtplib
import subprocess
import tempfile
import time
import unittest

from bulwark_harness import BINARY, BulwarkServer, SmtpConnection, simple_message
from smtp_sink import SmtpSink

SYSTEM_PYTHON = "/usr/bin/python3"  # the interpreter with dkimpy (python3-dkim)

ARC_VERIFY = r"""
import dkim, json, sys
records = json.load(open(sys.argv[1]))
def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    return records.get(name.rstrip('.').lower(), '').encode()
cv, results, reason = dkim.arc_verify(sys.stdin.buffer.read(), dnsfunc=dnsfunc)
print(json.dumps({"cv": cv.decode() if isinstance(cv, bytes) else str(cv), "reason": str(reason)}))
"""

DKIM_VERIFY = r"""
import dkim, json, sys
records = json.load(open(sys.argv[1]))
def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    return records.get(name.rstrip('.').lower(), '').encode()
message = sys.stdin.buffer.read()
checker = dkim.DKIM(message)
count = sum(1 for name, _ in checker.headers if name.lower() == b'dkim-signature')
results = [bool(checker.verify(idx=index, dnsfunc=dnsfunc)) for index in range(count)]
print(json.dumps(results))
"""


def run(arguments, **options):
    return subprocess.run(arguments, capture_output=True, check=True, **options)


def public_key_record(private_key_file):
    """The DKIM key record for a PEM private key: p= is the SubjectPublicKeyInfo for RSA and the
    raw 32-byte key for Ed25519 (RFC 8463 4)."""
    der = run(["openssl", "pkey", "-in", private_key_file, "-pubout", "-outform", "DER"]).stdout
    text = run(["openssl", "pkey", "-in", private_key_file, "-noout", "-text"]).stdout
    if b"ED25519" in text.upper():
        return "v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:]).decode()
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def txt_record(name, text):
    """A zone-file TXT record, split into character-strings of at most 200 octets."""
    parts = " ".join('"' + text[index:index + 200] + '"' for index in range(0, len(text), 200))
    return f"{name}. 300 IN TXT {parts}"


def quoted(records):
    return "[" + ", ".join(json.dumps(record) for record in records) + "]"


class AuthenticationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="bulwark-auth-")
        cls.sender_key = os.path.join(cls.work, "good.pem")
        run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", cls.sender_key])
        records = [
            txt_record("good.test", "v=spf1 ip4:127.0.0.1 -all"),
            txt_record("_dmarc.good.test", "v=DMARC1; p=reject"),
            txt_record("s1._domainkey.good.test", public_key_record(cls.sender_key)),
        ]
        for domain, policy in [("reject.test", "reject"), ("quarantine.test", "quarantine"),
                               ("none.test", "none"), ("overridden.test", "reject")]:
            records.append(txt_record(domain, "v=spf1 -all"))
            records.append(txt_record("_dmarc." + domain, f"v=DMARC1; p={policy}"))
        cls.server = BulwarkServer(
            connectors=['name = "inbound"\nlisten = "127.0.0.1:0"\ntls = "none"\nauth = false',
                        'name = "submission"\nlisten = "127.0.0.1:0"\ntls = "none"\nauth = false\n'
                        'relay_networks = ["127.0.0.0/8"]'],
            extra=f"[delivery]\ndns_records = {quoted(records)}\n",
            authentication='verify = true\ndmarc_none_action = "spam"\n\n'
                           '[[dmarc_override]]\ndomain = "overridden.test"\naction = "none"')
        cls.server.write_config()
        # Our own signing keys, made the way an administrator would, before the start.
        cls.keys = {}
        for selector, kind in [("s1", "rsa"), ("s2", "ed25519")]:
            cls.keys[selector] = cls.keygen(selector, kind)
        cls.server.start()

    @classmethod
    def keygen(cls, selector, kind):
        result = subprocess.run([BINARY, "dkim", "keygen", "example.test", selector, "--type", kind,
                                 "--config", cls.server.config_path],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise AssertionError(f"dkim keygen failed: {result.stderr}")
        key_file = os.path.join(cls.server.data_dir, "dkim", "example.test", selector + ".key")
        assert os.path.exists(key_file), result.stdout
        return key_file

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        shutil.rmtree(cls.work, ignore_errors=True)

    def send(self, message, sender, recipient="alice@example.test", connector="inbound"):
        """One transaction; returns the reply to the end of data."""
        connection = SmtpConnection(self.server.port(connector))
        try:
            self.assertEqual(220, connection.reply()[0])
            self.assertEqual(250, connection.command("EHLO client.good.test")[0])
            self.assertEqual(250, connection.command(f"MAIL FROM:<{sender}>")[0])
            self.assertEqual(250, connection.command(f"RCPT TO:<{recipient}>")[0])
            self.assertEqual(354, connection.command("DATA")[0])
            if isinstance(message, str):
                message = message.encode()
            connection.send(message + b".\r\n")
            reply = connection.reply()
            connection.command("QUIT")
            return reply
        finally:
            connection.close()

    def dkim_sign(self, message):
        return run(["/usr/bin/dkimsign", "s1", "good.test", self.sender_key],
                   input=message.encode()).stdout

    def delivered_with(self, mailbox, marker, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for message in self.server.delivered(mailbox):
                if marker.encode() in message:
                    return message.decode("utf-8", "replace")
            time.sleep(0.05)
        self.fail(f"no message with {marker!r} delivered to {mailbox}")

    @staticmethod
    def results_fields(message):
        # Maildir files have LF line ends; what went over SMTP has CRLF.
        text = message.replace("\r\n", "\n")
        header = text.split("\n\n", 1)[0].replace("\n\t", " ").replace("\n ", " ")
        return [line for line in header.split("\n") if line.lower().startswith("authentication-results:")]

    def test_aligned_signed_mail_passes_and_forged_results_are_removed(self):
        message = simple_message(subject="signed-pass", sender="news@good.test",
                                 extra_headers="Authentication-Results: mx.example.test; dmarc=pass\r\n"
                                               "Authentication-Results: other.example; spf=pass\r\n")
        code, lines = self.send(self.dkim_sign(message), "news@good.test")
        self.assertEqual(250, code, lines)
        delivered = self.delivered_with("alice", "signed-pass")
        ours = [field for field in self.results_fields(delivered) if "mx.example.test" in field]
        self.assertEqual(1, len(ours), self.results_fields(delivered))
        self.assertIn("spf=pass smtp.mailfrom=news@good.test", ours[0])
        self.assertIn("dkim=pass", ours[0])
        self.assertIn("header.d=good.test", ours[0])
        self.assertIn("dmarc=pass", ours[0])
        self.assertIn("header.from=good.test", ours[0])
        self.assertTrue(any("other.example; spf=pass" in field
                            for field in self.results_fields(delivered)),
                        "a foreign authserv-id is left alone")
        events = self.server.wait_trace(
            lambda events: any(e["status"] == "received" and "dmarc=pass" in e.get("detail", "")
                               for e in events))
        self.assertTrue(any("dmarc=pass" in e.get("detail", "") for e in events), events)

    def test_tampered_signature_fails_and_p_reject_refuses(self):
        signed = self.dkim_sign(simple_message(subject="tampered", sender="news@good.test"))
        tampered = signed.replace(b"Hello.", b"Hellp.")
        # SPF fails too (MAIL FROM reject.test forbids every host), so nothing aligns.
        code, lines = self.send(tampered, "bounce@reject.test")
        self.assertEqual(550, code, lines)
        self.assertIn("5.7.1", lines[-1])
        self.assertIn("dmarc=fail", lines[-1])

    def test_dmarc_reject_policy_refuses_with_550(self):
        code, lines = self.send(simple_message(subject="reject", sender="ceo@reject.test"),
                                "ceo@reject.test")
        self.assertEqual(550, code, lines)
        self.assertIn("5.7.1", lines[-1])
        events = self.server.wait_trace(lambda events: any(e["status"] == "rejected" for e in events))
        self.assertTrue(any(e["status"] == "rejected" and "dmarc=fail" in e.get("detail", "")
                            for e in events), events)

    def test_dmarc_quarantine_policy_holds_the_message(self):
        before = set(self.server.queue_files("hold"))
        code, lines = self.send(simple_message(subject="quarantine", sender="a@quarantine.test"),
                                "a@quarantine.test")
        self.assertEqual(250, code, lines)
        held = set(self.server.queue_files("hold")) - before
        self.assertEqual(1, len(held), "the message waits in hold/")
        queue_id = held.pop()
        events = self.server.wait_trace(
            lambda events: any(e["status"] == "quarantined" for e in events), "--queue-id", queue_id)
        self.assertTrue(any(e["status"] == "quarantined" and "quarantine" in e.get("detail", "")
                            for e in events), events)
        # An operator's release delivers it.
        subprocess.run([BINARY, "queue", "release", queue_id, "--config", self.server.config_path],
                       check=True, capture_output=True)
        delivered = self.delivered_with("alice", "Subject: quarantine")
        self.assertIn("dmarc=fail", delivered)

    def test_p_none_failure_is_marked_by_local_policy(self):
        code, lines = self.send(simple_message(subject="none-policy", sender="x@none.test"),
                                "x@none.test")
        self.assertEqual(250, code, lines)
        delivered = self.delivered_with("alice", "none-policy")
        self.assertIn("X-Bulwark-Spam: yes", delivered)
        self.assertIn("dmarc=fail", delivered)

    def test_dmarc_override_delivers_a_failing_domain_unmarked(self):
        code, lines = self.send(simple_message(subject="override", sender="x@overridden.test"),
                                "x@overridden.test")
        self.assertEqual(250, code, lines)
        delivered = self.delivered_with("alice", "Subject: override")
        self.assertNotIn("X-Bulwark-Spam", delivered)
        self.assertIn("dmarc=fail", delivered, "the result is still recorded")

    def test_ambiguous_from_is_refused(self):
        message = ("From: <news@good.test>\r\nFrom: <ceo@reject.test>\r\nTo: <alice@example.test>\r\n"
                   "Subject: two-from\r\n\r\nbody\r\n")
        code, lines = self.send(self.dkim_sign(message), "news@good.test")
        self.assertEqual(550, code, lines)
        self.assertIn("ambiguous From", lines[-1])

    def test_forged_spam_verdict_from_outside_is_removed(self):
        message = simple_message(subject="forged-verdict", sender="news@good.test",
                                 extra_headers="X-Bulwark-Spam: no\r\n")
        code, _ = self.send(self.dkim_sign(message), "news@good.test")
        self.assertEqual(250, code)
        self.assertNotIn("X-Bulwark-Spam", self.delivered_with("alice", "forged-verdict"))

    def verify_with_dkimpy(self, message, selectors):
        records = {f"{selector}._domainkey.example.test": public_key_record(self.keys[selector])
                   for selector in selectors}
        records_file = os.path.join(self.work, "records.json")
        with open(records_file, "w") as handle:
            json.dump(records, handle)
        result = run([SYSTEM_PYTHON, "-c", DKIM_VERIFY, records_file], input=message.encode())
        return json.loads(result.stdout)

    def test_our_users_mail_is_signed_with_every_key_and_rotation_needs_no_restart(self):
        message = simple_message(subject="outbound-1", sender="bob@example.test")
        code, lines = self.send(message, "bob@example.test", connector="submission")
        self.assertEqual(250, code, lines)
        delivered = self.delivered_with("alice", "outbound-1")
        self.assertEqual(2, delivered.count("DKIM-Signature:"), "one RSA and one Ed25519 signature")
        self.assertNotIn("Authentication-Results: mx.example.test", delivered,
                         "our users' mail is signed, not verified")
        self.assertEqual([True, True], self.verify_with_dkimpy(delivered, ["s1", "s2"]))

        # A new selector while the server runs: the next message carries it too.
        self.keys["s3"] = self.keygen("s3", "rsa")
        time.sleep(1.2)  # the keyring looks at the directory at most once a second
        code, lines = self.send(simple_message(subject="outbound-2", sender="bob@example.test"),
                                "bob@example.test", connector="submission")
        self.assertEqual(250, code, lines)
        delivered = self.delivered_with("alice", "outbound-2")
        self.assertEqual(3, delivered.count("DKIM-Signature:"))
        self.assertEqual([True, True, True], self.verify_with_dkimpy(delivered, ["s1", "s2", "s3"]))

    def test_strangers_mail_claiming_our_domain_is_not_signed(self):
        code, _ = self.send(simple_message(subject="stranger", sender="bob@example.test"),
                            "bob@example.test")
        self.assertEqual(250, code)
        self.assertNotIn("DKIM-Signature", self.delivered_with("alice", "Subject: stranger"))


class ArcSealTest(unittest.TestCase):
    """A gateway: mail for gateway.test goes on by SMTP to a mailbox server (a sink). Bulwark seals
    it, and dkimpy validates the chain it receives."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="bulwark-arc-")
        cls.sink = SmtpSink()
        cls.sender_key = os.path.join(cls.work, "good.pem")
        run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", cls.sender_key])
        records = [txt_record("good.test", "v=spf1 ip4:127.0.0.1 -all"),
                   txt_record("_dmarc.good.test", "v=DMARC1; p=none"),
                   txt_record("s1._domainkey.good.test", public_key_record(cls.sender_key))]
        cls.server = BulwarkServer(
            connectors=['name = "inbound"\nlisten = "127.0.0.1:0"\ntls = "none"\nauth = false'],
            extra=f"[delivery]\ndns_records = {quoted(records)}\n",
            local_domains=[f'name = "gateway.test"\ndelivery = "smtp"\nhost = "127.0.0.1:{cls.sink.port}"'],
            authentication='verify = true\narc_seal_domain = "gateway.test"\narc_seal_selector = "arc1"')
        cls.server.write_config()
        result = subprocess.run([BINARY, "dkim", "keygen", "gateway.test", "arc1", "--type", "rsa",
                                 "--config", cls.server.config_path], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        cls.seal_key = os.path.join(cls.server.data_dir, "dkim", "gateway.test", "arc1.key")
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        cls.sink.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    def test_forwarded_mail_is_sealed_and_dkimpy_validates_the_chain(self):
        message = simple_message(subject="sealed", sender="news@good.test",
                                 recipient="carol@gateway.test")
        signed = run(["/usr/bin/dkimsign", "s1", "good.test", self.sender_key],
                     input=message.encode()).stdout
        with smtplib.SMTP("127.0.0.1", self.server.port("inbound")) as client:
            client.sendmail("news@good.test", ["carol@gateway.test"], signed)
        deadline = time.time() + 20
        while time.time() < deadline and not self.sink.messages:
            time.sleep(0.05)
        self.assertTrue(self.sink.messages, "delivered to the mailbox server")
        data = self.sink.messages[-1][2]
        text = data.decode("utf-8", "replace")
        unfolded = text.replace("\r\n\t", " ").replace("\r\n ", " ")
        fields = {line.split(":", 1)[0]: line for line in unfolded.split("\r\n") if ":" in line}
        self.assertIn("i=1;", fields["ARC-Seal"])
        self.assertIn("cv=none", fields["ARC-Seal"])
        self.assertIn("d=gateway.test", fields["ARC-Seal"])
        self.assertTrue(fields["ARC-Authentication-Results"].startswith(
            "ARC-Authentication-Results: i=1; mx.example.test;"), fields)
        records = {"arc1._domainkey.gateway.test": public_key_record(self.seal_key),
                   "s1._domainkey.good.test": public_key_record(self.sender_key)}
        records_file = os.path.join(self.work, "records.json")
        with open(records_file, "w") as handle:
            json.dump(records, handle)
        verdict = json.loads(run([SYSTEM_PYTHON, "-c", ARC_VERIFY, records_file], input=data).stdout)
        self.assertEqual("pass", verdict["cv"], verdict)


if __name__ == "__main__":
    unittest.main()
