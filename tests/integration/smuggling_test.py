"""SMTP smuggling over the wire (CVE-2023-51764/5/6): each payload of
$BULWARK_TESTDATA/smtp/smuggling/inbound-payloads yields exactly one reply after DATA (a 550
rejection for the bare line ending) and never answers the smuggled transaction inside it.
Skipped when the test data is absent, except under CI=true, where that is a failure."""

import glob
import os
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

    def test_each_payload_is_one_rejected_message(self):
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
                self.assertEqual(code, 550, lines)
                # The next reply must answer our NOOP, not a smuggled command.
                code, lines = connection.command("NOOP")
                self.assertEqual(code, 250, lines)
                self.assertIn("OK", lines[0])
                connection.close()
        self.assertEqual(self.server.delivered("victim", "receiver.example"), [])


if __name__ == "__main__":
    unittest.main()
