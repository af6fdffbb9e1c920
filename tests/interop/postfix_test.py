"""Interop with Postfix as the sending MTA: a private Postfix relays to Bulwark with
smtp_tls_security_level = encrypt, so the message reaches the Maildir only if Bulwark's STARTTLS
works with a real MTA client; the Received header Bulwark adds must show TLS."""

import email.parser
import os
import smtplib
import sys
import time
import unittest
import uuid

from bulwark_harness import BulwarkServer
from postfix_instance import PostfixInstance, postfix_installed


class PostfixToBulwarkTest(unittest.TestCase):
    def setUp(self):
        self.bulwark = BulwarkServer().start()
        self.postfix = None
        try:
            self.postfix = PostfixInstance({
                "relayhost": f"[127.0.0.1]:{self.bulwark.port()}",
                "smtp_tls_security_level": "encrypt",
                "smtp_tls_loglevel": "1",
            }).start()
        except Exception:
            self.bulwark.cleanup()
            raise

    def tearDown(self):
        try:
            if self.postfix:
                self.postfix.cleanup()
        finally:
            self.bulwark.cleanup()

    def wait_for(self, local_part, token, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for message in self.bulwark.delivered(local_part):
                if token.encode() in message:
                    return message
            if self.bulwark.process.poll() is not None:
                break
            time.sleep(0.2)
        self.fail(f"message {token} did not reach Bulwark's Maildir (bulwark exit status "
                  f"{self.bulwark.process.poll()}).\nPostfix queue:\n"
                  f"{self.postfix.queue_listing()}\nPostfix log:\n{self.postfix.log()[-4000:]}\n"
                  "Bulwark log:\n" + "\n".join(self.bulwark.log_lines[-40:]))

    def test_postfix_relays_over_tls(self):
        token = "t" + uuid.uuid4().hex[:16]
        body = (f"From: <sender@remote.test>\r\nTo: <dave@example.test>\r\nSubject: via postfix {token}\r\n"
                f"Message-ID: <{token}@remote.test>\r\n\r\nRelayed through Postfix, token {token}.\r\n")
        with smtplib.SMTP("127.0.0.1", self.postfix.port, timeout=30) as client:
            client.ehlo("client.remote.test")
            refused = client.sendmail("sender@remote.test", ["dave@example.test"], body)
            self.assertEqual(refused, {})
        message = self.wait_for("dave", token)

        self.assertIn(f"Relayed through Postfix, token {token}.".encode(), message)
        parsed = email.parser.BytesParser().parsebytes(message, headersonly=True)
        self.assertEqual(parsed["Subject"], f"via postfix {token}")
        received = [" ".join(value.split()) for value in parsed.get_all("Received")]
        # Newest first: Bulwark's own header, then the one Postfix's smtpd added.
        self.assertGreaterEqual(len(received), 2, received)
        ours = received[0]
        self.assertIn("by mx.example.test (Bulwark)", ours)
        self.assertIn("from postfix.remote.test", ours)
        self.assertIn("with ESMTPS ", ours)
        self.assertRegex(ours, r"version=TLSv1\.[23] cipher=\S+ bits=\d+")
        self.assertIn("for <dave@example.test>", ours)
        self.assertIn("by postfix.remote.test (Postfix)", received[1])
        # Postfix's own log agrees that the hop to Bulwark was encrypted.
        self.assertRegex(self.postfix.log(), r"TLS connection established to \[?127\.0\.0\.1\]?")

        events = self.bulwark.wait_trace(lambda found: any(e["status"] == "received" for e in found),
                                         "--message-id", f"{token}@remote.test")
        received_events = [event for event in events if event["status"] == "received"]
        self.assertTrue(received_events, events)
        self.assertTrue(received_events[0]["tls_version"].startswith("TLSv1."), received_events[0])
        self.assertEqual(received_events[0]["helo"], "postfix.remote.test")


if __name__ == "__main__":
    if not postfix_installed():
        if os.environ.get("CI") == "true":
            print("postfix_test: postfix is not installed (or not running as root), and CI=true: failing",
                  file=sys.stderr)
            sys.exit(1)
        print("postfix_test: skipped: /usr/sbin/postfix is not installed or we are not root")
        sys.exit(0)
    unittest.main(verbosity=2)
