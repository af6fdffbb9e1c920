"""Bulwark is not an open relay: mail for other domains is refused with 554 5.7.1 unless the
client authenticated or sits in the connector's relay_networks, and none of the classic tricks
(%-hack, bang paths, quoted local parts, source routes, IP literals) gets mail relayed."""

import base64
import unittest

from bulwark_harness import UNREACHABLE_REMOTE, BulwarkServer, SmtpConnection


class RelayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BulwarkServer(
            connectors=[
                'name = "default"\nlisten = "127.0.0.1:0"\ntls = "starttls"\nauth = true',
                'name = "trusted"\nlisten = "127.0.0.1:0"\ntls = "starttls"\n'
                'relay_networks = ["127.0.0.0/8"]',
            ],
            users={"relay@example.test": "secret words"}, extra=UNREACHABLE_REMOTE).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def session(self, name="default"):
        connection = SmtpConnection(self.server.port(name))
        self.addCleanup(connection.close)
        self.assertEqual(connection.reply()[0], 220)
        self.assertEqual(connection.command("EHLO client.test")[0], 250)
        self.assertEqual(connection.command("MAIL FROM:<someone@remote.test>")[0], 250)
        return connection

    def test_remote_domain_refused(self):
        connection = self.session()
        code, lines = connection.command("RCPT TO:<victim@remote.test>")
        self.assertEqual(code, 554)
        self.assertIn("5.7.1", lines[0])

    def test_classic_relay_tricks_refused(self):
        tricks = [
            "<victim%remote.test@example.test>",        # %-hack
            "<remote.test!victim@example.test>",        # UUCP bang path
            '<"victim@remote.test"@example.test>',      # quoted local part with @
            "<@example.test:victim@remote.test>",       # source route ending remote
            "<victim@[127.0.0.1]>",                     # IP literal
            "<victim@[IPv6:::1]>",
            "<victim@remote.test.>",                    # trailing dot
            "<victim@EXAMPLE.test.remote.test>",        # local domain as a prefix
        ]
        connection = self.session()
        for trick in tricks:
            code, lines = connection.command(f"RCPT TO:{trick}")
            self.assertIn(code, (501, 553, 554), f"{trick} answered {code} {lines}")
            if code == 554:
                self.assertIn("5.7.1", lines[0])
            connection.command("RSET")
            connection.command("MAIL FROM:<someone@remote.test>")

    def test_source_route_to_local_user_is_local_delivery(self):
        connection = self.session()
        self.assertEqual(connection.command("RCPT TO:<@remote.test:routed@example.test>")[0], 250)
        self.assertEqual(connection.command("DATA")[0], 354)
        connection.send("Subject: routed\r\n\r\nx\r\n.\r\n")
        self.assertEqual(connection.reply()[0], 250)
        self.assertEqual(len(self.server.wait_delivered("routed", 1)), 1)

    def test_bare_postmaster_is_accepted(self):
        connection = self.session()
        self.assertEqual(connection.command("RCPT TO:<Postmaster>")[0], 250)
        self.assertEqual(connection.command("RCPT TO:<nobody>")[0], 501)
        self.assertEqual(connection.command("DATA")[0], 354)
        connection.send("Subject: to the postmaster\r\n\r\nx\r\n.\r\n")
        self.assertEqual(connection.reply()[0], 250)
        self.assertEqual(len(self.server.wait_delivered("postmaster", 1)), 1)

    def test_path_traversal_local_part_refused(self):
        connection = self.session()
        for local_part in ["../../etc", ".hidden", "a/b"]:
            code, _ = connection.command(f"RCPT TO:<{local_part}@example.test>")
            self.assertGreaterEqual(code, 500, local_part)

    def test_relay_networks_may_relay(self):
        connection = self.session("trusted")
        self.assertEqual(connection.command("RCPT TO:<friend@remote.test>")[0], 250)
        # The %-hack is still a relay request, and this client may relay: accepted.
        self.assertEqual(connection.command("RCPT TO:<a%b@example.test>")[0], 250)

    def test_authenticated_client_may_relay_and_message_waits_in_queue(self):
        connection = SmtpConnection(self.server.port())
        self.addCleanup(connection.close)
        connection.reply()
        connection.command("EHLO client.test")
        connection.starttls()
        connection.command("EHLO client.test")
        token = base64.b64encode(b"\0relay@example.test\0secret words").decode()
        self.assertEqual(connection.command(f"AUTH PLAIN {token}")[0], 235)
        self.assertEqual(connection.command("MAIL FROM:<relay@example.test>")[0], 250)
        self.assertEqual(connection.command("RCPT TO:<friend@remote.test>")[0], 250)
        self.assertEqual(connection.command("DATA")[0], 354)
        connection.send("Subject: outbound\r\n\r\nx\r\n.\r\n")
        code, lines = connection.reply()
        self.assertEqual(code, 250)
        queue_id = lines[0].split()[-1]
        # Relayed: the queue tries remote.test's MX (unreachable here) and keeps the message.
        events = self.server.wait_trace(lambda e: any(x["status"] == "deferred" for x in e),
                                        "--queue-id", queue_id)
        self.assertTrue(any(event["status"] == "deferred" for event in events), events)
        self.assertIn(queue_id, self.server.queue_files("deferred"))


if __name__ == "__main__":
    unittest.main()
