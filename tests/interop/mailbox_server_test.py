"""Interop with Postfix as the downstream mailbox server of a local domain (delivery = "smtp"): the
real `bulwark serve` hands mail for corp.test to a private Postfix on loopback, which stores it in
its own Maildir (virtual delivery). Checked on what reached that Maildir (with the envelope Postfix
recorded), on a recipient Postfix does not know (550 at RCPT: a bounce to our sender, no retry), and
on tls = "required" against Postfix's STARTTLS (the hop is encrypted, and Postfix's Received header
says so)."""

import email.parser
import os
import smtplib
import subprocess
import sys
import time
import unittest
import uuid

from bulwark_harness import BulwarkServer
from postfix_instance import PostfixInstance, postfix_installed


def self_signed(folder, host):
    certificate, key = os.path.join(folder, host + ".pem"), os.path.join(folder, host + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", certificate, "-days", "2", "-subj", "/CN=" + host,
                    "-addext", "subjectAltName=DNS:" + host],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return certificate, key


class PostfixMailboxServerTest(unittest.TestCase):
    """One Postfix (mailbox server for corp.test and secure.test, STARTTLS offered) and one
    Bulwark for the whole class; each test uses its own recipients."""

    @classmethod
    def setUpClass(cls):
        cls.postfix = PostfixInstance({"myhostname": "mailbox.corp.test"})
        try:
            # Only these two mailboxes exist: anyone else is refused at RCPT (550 5.1.1).
            mail = cls.postfix.deliver_to_maildirs(
                "corp.test, secure.test",
                "inline:{ bob@corp.test=bob/, carol@secure.test=carol/ }")
            certificate, key = self_signed(cls.postfix.root, "mailbox.corp.test")
            cls.maildir = {user: os.path.join(mail, user) for user in ("bob", "carol")}
            cls.postfix.settings.update({
                "smtpd_tls_security_level": "may",
                "smtpd_tls_cert_file": certificate,
                "smtpd_tls_key_file": key,
                "smtpd_tls_received_header": "yes",
                "smtpd_tls_loglevel": "1",
            })
            cls.postfix.start()
        except Exception:
            cls.postfix.cleanup()
            raise
        port = cls.postfix.port
        cls.bulwark = BulwarkServer(local_domains=[
            "example.test",
            f'name = "corp.test"\ndelivery = "smtp"\nhost = "127.0.0.1:{port}"',
            f'name = "secure.test"\ndelivery = "smtp"\nhost = "127.0.0.1:{port}"\n'
            'tls = "required"',
        ])
        try:
            cls.bulwark.start()
        except Exception:
            cls.postfix.cleanup()
            cls.bulwark.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.bulwark.cleanup()
        finally:
            cls.postfix.cleanup()

    def submit(self, sender, recipient):
        token = "t" + uuid.uuid4().hex[:16]
        body = (f"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: mailbox {token}\r\n"
                f"Message-ID: <{token}@remote.test>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
                f"\r\nFor the mailbox server, token {token}.\r\n")
        with smtplib.SMTP("127.0.0.1", self.bulwark.port(), timeout=30) as client:
            client.ehlo("client.remote.test")
            self.assertEqual(client.sendmail(sender, [recipient], body), {})
        return token

    def diagnostics(self):
        return ("\nPostfix log:\n" + self.postfix.log()[-3000:] + "\nBulwark log:\n" +
                "\n".join(self.bulwark.log_lines[-30:]))

    def wait_arrival(self, user, token, timeout=30):
        folder = os.path.join(self.maildir[user], "new")
        deadline = time.time() + timeout
        while time.time() < deadline:
            for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
                with open(os.path.join(folder, name), "rb") as handle:
                    message = handle.read()
                if token.encode() in message:
                    return message
            time.sleep(0.1)
        self.fail(f"message {token} did not reach Postfix's Maildir for {user}" + self.diagnostics())

    def test_mail_for_the_local_domain_lands_in_the_mailbox_servers_maildir(self):
        token = self.submit("sender@remote.test", "bob@corp.test")
        message = self.wait_arrival("bob", token)
        parsed = email.parser.BytesParser().parsebytes(message, headersonly=True)
        # Postfix's virtual delivery records the envelope it was given.
        self.assertEqual(parsed["Return-Path"], "<sender@remote.test>")
        self.assertEqual(parsed["Delivered-To"], "bob@corp.test")
        received = [" ".join(value.split()) for value in parsed.get_all("Received")]
        self.assertIn("by mailbox.corp.test (Postfix)", received[0])
        self.assertIn("from mx.example.test", received[0])
        self.assertIn("by mx.example.test (Bulwark)", received[1])
        self.assertFalse(os.path.exists(self.bulwark.maildir("bob", "corp.test")),
                         "never written to Bulwark's own Maildir as well")
        events = self.bulwark.wait_trace(lambda e: any(x["status"] == "delivered" for x in e),
                                         "--message-id", f"{token}@remote.test")
        attempts = [e for e in events if e["status"] == "attempt"]
        self.assertTrue(attempts, events)
        self.assertIn(f"[127.0.0.1]:{self.postfix.port} required=none", attempts[0]["detail"])
        self.assertNotIn("protocol=lmtp", attempts[0]["detail"])

    def test_unknown_user_at_the_mailbox_server_bounces_to_the_sender(self):
        self.submit("alice@example.test", "nobody@corp.test")
        bounces = self.bulwark.wait_delivered("alice", 1, timeout=30)
        self.assertEqual(len(bounces), 1, "no bounce" + self.diagnostics())
        self.assertIn(b"Final-Recipient: rfc822; nobody@corp.test", bounces[0])
        self.assertIn(b"Status: 5.1.1", bounces[0])
        self.assertIn(b"Remote-MTA: dns; 127.0.0.1", bounces[0])
        self.assertIn(b"User unknown", bounces[0])

    def test_required_tls_to_the_mailbox_server(self):
        token = self.submit("sender@remote.test", "carol@secure.test")
        message = self.wait_arrival("carol", token)
        parsed = email.parser.BytesParser().parsebytes(message, headersonly=True)
        received = " ".join(parsed.get_all("Received")[0].split())
        self.assertIn("by mailbox.corp.test (Postfix)", received)
        self.assertRegex(received, r"\(using TLSv1\.[23] with cipher ")
        events = self.bulwark.wait_trace(lambda e: any(x["status"] == "attempt" for x in e),
                                         "--message-id", f"{token}@remote.test")
        attempts = [e for e in events if e["status"] == "attempt"]
        self.assertTrue(attempts, events)
        self.assertIn("required=required", attempts[0]["detail"])
        self.assertRegex(attempts[0]["detail"], r"tls=TLSv1\.[23] ")
        self.assertIn('certificate="CN=mailbox.corp.test"', attempts[0]["detail"])


if __name__ == "__main__":
    if not postfix_installed():
        if os.environ.get("CI") == "true":
            print("mailbox_server_test: postfix is not installed (or not running as root), and "
                  "CI=true: failing", file=sys.stderr)
            sys.exit(1)
        print("mailbox_server_test: skipped: /usr/sbin/postfix is not installed or we are not root")
        sys.exit(0)
    unittest.main(verbosity=2)
