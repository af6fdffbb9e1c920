"""Required TLS that cannot be lost (MISSION.md 1, RFC 8689): a message sent to node A with
REQUIRETLS is relayed by A to node B over verified TLS with REQUIRETLS passed on, and B, whose
only way onward is a next hop without TLS, keeps it deferred instead of sending it in clear. The
same path without REQUIRETLS delivers in clear, which shows the test can fail."""

import os
import time
import unittest

from bulwark_harness import BulwarkServer, SmtpConnection
from smtp_sink import SmtpSink


class RequireTlsRelayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sink = SmtpSink()
        # Node B: relays for loopback clients; far.test goes to the sink, whatever TLS says.
        cls.node_b = BulwarkServer(
            connectors=['name = "default"\nlisten = "127.0.0.1:0"\ntls = "starttls"\n'
                        'relay_networks = ["127.0.0.1/32"]'],
            extra=f"""[delivery]
tls = "none"
port = {cls.sink.port}
dns_records = ["far.test. 300 IN MX 10 sink.far.test.", "sink.far.test. 300 IN A 127.0.0.1"]
""").start()
        certificate = os.path.join(cls.node_b.data_dir, "tls", "self-signed.crt")
        # Node A: far.test goes to node B by name (its certificate names mx.example.test), verified.
        cls.node_a = BulwarkServer(
            connectors=['name = "default"\nlisten = "127.0.0.1:0"\ntls = "starttls"\n'
                        'relay_networks = ["127.0.0.1/32"]'],
            extra=f"""[delivery]
ca_file = "{certificate}"
dns_records = ["mx.example.test. 300 IN A 127.0.0.1"]

[[send_connector]]
name = "to-node-b"
domains = ["far.test"]
smart_host = "mx.example.test:{cls.node_b.port()}"
tls = "verify"
""").start()

    @classmethod
    def tearDownClass(cls):
        cls.node_a.cleanup()
        cls.node_b.cleanup()
        cls.sink.stop()

    def send_to_a(self, subject, require_tls):
        connection = SmtpConnection(self.node_a.port())
        self.addCleanup(connection.close)
        connection.reply()
        connection.command("EHLO client.test")
        connection.starttls()
        connection.command("EHLO client.test")
        parameter = " REQUIRETLS" if require_tls else ""
        self.assertEqual(connection.command(f"MAIL FROM:<sender@example.test>{parameter}")[0], 250)
        self.assertEqual(connection.command("RCPT TO:<someone@far.test>")[0], 250)
        self.assertEqual(connection.command("DATA")[0], 354)
        connection.send(f"Subject: {subject}\r\n\r\nbody\r\n.\r\n")
        code, lines = connection.reply()
        self.assertEqual(code, 250, lines)
        return lines[0].split()[-1]

    def wait_for(self, predicate, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate():
                return True
            time.sleep(0.1)
        return predicate()

    def test_without_requiretls_the_path_delivers_in_clear(self):
        self.send_to_a("plain path", require_tls=False)
        self.assertTrue(self.wait_for(
            lambda: any(b"Subject: plain path" in data for _, _, data in self.sink.messages)),
            "the control message should reach the sink")

    def test_requiretls_travels_with_the_message_and_is_enforced_by_the_next_node(self):
        queue_id_a = self.send_to_a("must stay encrypted", require_tls=True)
        # A relayed it to B over verified TLS.
        events = self.node_a.wait_trace(
            lambda e: any(x["status"] == "delivered" for x in e), "--queue-id", queue_id_a)
        self.assertTrue(any(x["status"] == "delivered" for x in events), events)
        attempt = next(x for x in events if x["status"] == "attempt")
        self.assertIn("required=verify", attempt["detail"])
        self.assertIn("verification=pkix", attempt["detail"])
        # B kept the requirement: its attempt to the sink needed TLS, so the message waits.
        events_b = self.node_b.wait_trace(
            lambda e: any(x["status"] == "deferred" for x in e), "--sender", "sender@example.test",
            "--status", "deferred")
        self.assertTrue(events_b, "node B should defer the REQUIRETLS message")
        deferred_ids = self.node_b.queue_files("deferred")
        self.assertTrue(deferred_ids)
        time.sleep(1)
        self.assertFalse(any(b"must stay encrypted" in data for _, _, data in self.sink.messages),
                         "a REQUIRETLS message reached a next hop in clear text")
        show = self.node_b.trace("--sender", "sender@example.test", "--status", "attempt")
        self.assertTrue(any("required=verify" in event["detail"] for event in show), show)


if __name__ == "__main__":
    unittest.main()
