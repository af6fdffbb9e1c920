"""SMTP smuggling over the wire (CVE-2023-51764/5/6): each payload of
$BULWARK_TESTDATA/smtp/smuggling/inbound-payloads yields exactly one reply after DATA and never
answers the smuggled transaction inside it. Payloads with a bare CR or LF are rejected (550 5.5.2);
the two whose fake terminator hides behind a NUL have no bare line ending, so they are accepted as
ONE message whose body carries the smuggled lines as text (SOURCES.md "smtp/smuggling").
Skipped when the test data is absent, except under CI=true, where that is a failure."""

import glob
import os
import re
import unittest

from bulwark_harness import TESTDATA, BulwarkServer, SmtpConnection

PAYLOADS = sorted(glob.glob(os.path.join(TESTDATA, "smtp", "smuggling", "inbound-payloads", "*.bin")))


class SmugglingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not PAYLOADS:
            if os.environ.get("CI") == "true":
                raise AssertionError(f"smuggling payloads missing under {TESTDATA}")
            raise unittest.SkipTest(f"smuggling payloads not found under {TESTDATA}")
        cls.server = BulwarkServer(local_domains=["example.test", "receiver.example"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_payload_count(self):
        self.assertEqual(len(PAYLOADS), 12)

    def test_each_payload_is_one_reply_and_never_two_messages(self):
        accepted = []
        for path in PAYLOADS:
            with self.subTest(payload=os.path.basename(path)):
                with open(path, "rb") as handle:
                    payload = handle.read()
                connection = SmtpConnection(self.server.port())
                connection.reply()
                connection.command("EHLO client.test")
                self.assertEqual(connection.command("MAIL FROM:<test@sender.example>")[0], 250)
                self.assertEqual(connection.command("RCPT TO:<victim@receiver.example>")[0], 250)
                self.assertEqual(connection.command("DATA")[0], 354)
                connection.send(payload)
                code, lines = connection.reply()
                bare = re.search(rb"(?<!\r)\n|\r(?!\n)", payload) is not None
                if b"\x00" in payload and not bare:
                    self.assertEqual(code, 250, lines)
                    accepted.append(lines[0].split()[-1])
                else:
                    self.assertEqual(code, 550, lines)
                    self.assertIn("5.5.2", lines[0])
                # The next reply must answer our NOOP, not a smuggled command.
                code, lines = connection.command("NOOP")
                self.assertEqual(code, 250, lines)
                self.assertIn("OK", lines[0])
                connection.close()
        self.assertEqual(len(accepted), 2)
        delivered = self.server.wait_delivered("victim", len(accepted), "receiver.example")
        self.assertEqual(len(delivered), len(accepted), "one message per accepted payload")
        for message in delivered:
            header, _, body = message.partition(b"\n\n")
            self.assertIn(b"\nSubject: CHECK EMAIL", header)
            self.assertNotIn(b"SMUGGLED", header)
            self.assertIn(b"Subject: SMUGGLED EMAIL", body, "smuggled lines stay body text")


if __name__ == "__main__":
    unittest.main()
