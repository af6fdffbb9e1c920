"""`bulwark trace` against a running server: every received and delivered message is an event
with its envelope and connection details; search by sender, recipient, message id, status, time;
rejected messages are traced too; table output by default, JSON with --json."""

import subprocess
import unittest

from bulwark_harness import BINARY, BulwarkServer, SmtpConnection


class TraceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BulwarkServer().start()
        cls.queue_ids = []
        for index, (sender, recipient) in enumerate([("ann@remote.test", "tom@example.test"),
                                                     ("ben@remote.test", "kim@example.test")]):
            connection = SmtpConnection(cls.server.port())
            connection.reply()
            connection.command("EHLO client.test")
            connection.starttls()
            connection.command("EHLO client.test")
            connection.command(f"MAIL FROM:<{sender}>")
            connection.command(f"RCPT TO:<{recipient}>")
            connection.command("DATA")
            connection.send(f"Message-ID: <trace-{index}@remote.test>\r\nSubject: t{index}\r\n\r\nx\r\n.\r\n")
            code, lines = connection.reply()
            assert code == 250, lines
            cls.queue_ids.append(lines[0].split()[-1])
            connection.close()
        connection = SmtpConnection(cls.server.port())
        connection.reply()
        connection.command("EHLO client.test")
        connection.command("MAIL FROM:<bad@remote.test>")
        connection.command("RCPT TO:<tom@example.test>")
        connection.command("DATA")
        connection.send("Subject: bare\n\nlf only\r\n.\r\n")
        connection.reply()
        connection.close()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_received_and_delivered_events(self):
        events = self.server.wait_trace(lambda e: len(e) >= 2, "--queue-id", self.queue_ids[0])
        statuses = sorted(event["status"] for event in events)
        self.assertEqual(statuses, ["delivered", "received"])
        received = next(event for event in events if event["status"] == "received")
        self.assertEqual(received["sender"], "ann@remote.test")
        self.assertEqual(received["recipients"], ["tom@example.test"])
        self.assertEqual(received["message_id"], "<trace-0@remote.test>")
        self.assertEqual(received["client_address"], "127.0.0.1")
        self.assertEqual(received["helo"], "client.test")
        self.assertRegex(received["tls_version"], r"TLSv1\.[23]")
        self.assertTrue(received["tls_cipher"])
        self.assertGreater(received["size"], 0)

    def test_search_criteria(self):
        self.server.wait_trace(lambda e: len(e) >= 5)
        by_sender = self.server.trace("--sender", "BEN@remote.test")
        self.assertTrue(by_sender)
        self.assertTrue(all(event["sender"] == "ben@remote.test" for event in by_sender))
        by_recipient = self.server.trace("--recipient", "kim@example.test", "--status", "delivered")
        self.assertEqual(len(by_recipient), 1)
        self.assertEqual(by_recipient[0]["queue_id"], self.queue_ids[1])
        by_id = self.server.trace("--message-id", "trace-1@remote.test")
        self.assertTrue(by_id)
        self.assertTrue(all(event["queue_id"] == self.queue_ids[1] for event in by_id))
        self.assertEqual(self.server.trace("--since", "-1h", "--sender", "ann@remote.test",
                                           "--status", "received")[0]["queue_id"], self.queue_ids[0])
        self.assertEqual(self.server.trace("--until", "2000-01-01"), [])
        self.assertEqual(len(self.server.trace("--sender", "*@remote.test", "--status", "received")), 2)

    def test_rejected_message_is_traced(self):
        events = self.server.wait_trace(lambda e: len(e) >= 1, "--status", "rejected")
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0]["sender"], "bad@remote.test")
        self.assertIn("550", events[0]["detail"])

    def test_table_output(self):
        self.server.wait_trace(lambda e: len(e) >= 2, "--sender", "ann@remote.test")
        result = subprocess.run([BINARY, "trace", "--config", self.server.config_path,
                                 "--sender", "ann@remote.test"], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(self.queue_ids[0], result.stdout)
        self.assertIn("ann@remote.test", result.stdout)
        self.assertIn("delivered", result.stdout)


if __name__ == "__main__":
    unittest.main()
