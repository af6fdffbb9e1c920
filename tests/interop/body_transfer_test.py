"""Interop for the message content on the wire: the real `bulwark serve` relays to a private
Postfix, which offers CHUNKING, so the content goes with BDAT (Postfix's log counts the commands),
lines beginning with "." arrive untouched, a large message goes in several chunks, and
`[delivery] chunking = false` falls back to DATA. A second Postfix hides 8BITMIME
(smtpd_discard_ehlo_keywords): 8-bit mail arrives converted to 7 bit and decodes back to the
original; 8-bit header fields cannot be converted and bounce with 5.6.3."""

import email
import email.policy
import re
import smtplib
import time
import unittest
import uuid

from bulwark_harness import BulwarkServer
from outbound_test import DNS_RECORDS, RELAY_CONNECTOR, OutboundTestCase
from postfix_instance import postfix_installed


class BodyTransferTestCase(OutboundTestCase):
    """Postfix without STARTTLS (TLS is not the subject here); one Bulwark per test."""

    certificate = None

    def setUp(self):
        super().setUp()
        self.log_offset = len(self.postfix.log())

    def start(self, delivery_lines=()):
        delivery = ["[delivery]", 'tls = "none"', f"port = {self.postfix.port}",
                    f"dns_records = {DNS_RECORDS}", "connect_timeout_seconds = 5",
                    "command_timeout_seconds = 20", *delivery_lines]
        self.bulwark = BulwarkServer(connectors=[RELAY_CONNECTOR], extra="\n".join(delivery) + "\n")
        return self.bulwark.start()

    def relay(self, headers, body, body_8bit=False, recipient="bob@remote.test"):
        """Relays one message (bytes with CRLF) through Bulwark; returns its token, which is in the
        Message-ID and the body."""
        token = "t" + uuid.uuid4().hex[:16]
        message = (f"From: <alice@example.test>\r\nTo: <{recipient}>\r\n"
                   f"Message-ID: <{token}@example.test>\r\n").encode() + headers + b"\r\n" + \
            body + f"token {token}\r\n".encode()
        options = ["BODY=8BITMIME"] if body_8bit else []
        with smtplib.SMTP("127.0.0.1", self.bulwark.port(), timeout=30) as client:
            client.ehlo("client.example.test")
            refused = client.sendmail("alice@example.test", [recipient], message,
                                      mail_options=options)
            self.assertEqual(refused, {})
        return token

    def postfix_commands(self, timeout=10):
        """The command counts Postfix logged when Bulwark's session ended (e.g. {"bdat": 3})."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in self.postfix.log()[self.log_offset:].splitlines():
                match = re.search(r"postfix/smtpd\[\d+\]: disconnect from \S+ (.*commands=\d+)", line)
                if match:
                    return {name: int(count) for name, count in
                            re.findall(r"(\w+)=(\d+)(?:/\d+)?", match.group(1))}
            time.sleep(0.1)
        self.fail("Postfix logged no disconnect" + self.diagnostics())

    @staticmethod
    def body_of(message):
        return message[message.index(b"\r\n\r\n") + 4:] if b"\r\n\r\n" in message else \
            message[message.index(b"\n\n") + 2:]


DOT_LINES = b".leading dot\r\n..two dots\r\n.\r\n. space after a dot\r\nmiddle.dot\r\n"


@unittest.skipUnless(postfix_installed(), "needs Postfix and root")
class ChunkingTest(BodyTransferTestCase):
    """Postfix's defaults: CHUNKING, 8BITMIME and PIPELINING offered."""

    def test_bdat_carries_dot_lines_untouched(self):
        self.start()
        token = self.relay(b"Subject: dots\r\n", DOT_LINES)
        message = self.wait_arrival(token)
        # Postfix's Maildir file has LF line endings.
        self.assertIn(DOT_LINES.replace(b"\r\n", b"\n"), message, message)
        commands = self.postfix_commands()
        self.assertEqual(commands.get("bdat"), 1, commands)
        self.assertNotIn("data", commands)
        attempt = self.attempts(token)[0]
        self.assertIn("transfer=BDAT", attempt["detail"])
        self.assertNotIn("converted=7bit", attempt["detail"])

    def test_large_message_goes_in_several_chunks(self):
        self.start()
        line = b"x" * 998 + b"\r\n"  # 1000 octets a line
        body = line * 2600         # 2.6 MB: chunks of 1 MiB, 1 MiB and the rest
        token = self.relay(b"Subject: large\r\n", body)
        message = self.wait_arrival(token, timeout=60)
        self.assertEqual(message.count(b"x" * 998 + b"\n"), 2600)
        self.assertEqual(self.postfix_commands().get("bdat"), 3)

    def test_chunking_switched_off_uses_data(self):
        self.start(["chunking = false"])
        token = self.relay(b"Subject: dots over DATA\r\n", DOT_LINES)
        message = self.wait_arrival(token)
        self.assertIn(DOT_LINES.replace(b"\r\n", b"\n"), message, message)
        commands = self.postfix_commands()
        self.assertEqual(commands.get("data"), 1, commands)
        self.assertNotIn("bdat", commands)
        self.assertIn("transfer=DATA", self.attempts(token)[0]["detail"])

    def test_8bit_goes_unchanged_to_a_server_with_8bitmime(self):
        self.start()
        body = "Grüße aus Köln\r\n".encode()
        token = self.relay(b"Subject: 8bit\r\nMIME-Version: 1.0\r\n"
                           b"Content-Type: text/plain; charset=utf-8\r\n"
                           b"Content-Transfer-Encoding: 8bit\r\n", body, body_8bit=True)
        message = self.wait_arrival(token)
        self.assertIn(b"Content-Transfer-Encoding: 8bit\n", message)
        self.assertIn(body.replace(b"\r\n", b"\n"), message)
        self.assertNotIn("converted=7bit", self.attempts(token)[0]["detail"])


@unittest.skipUnless(postfix_installed(), "needs Postfix and root")
class SevenBitTest(BodyTransferTestCase):
    """Postfix that does not announce 8BITMIME: Bulwark must not send it 8-bit octets."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Restarted with the keyword hidden (start() writes main.cf again and waits for smtpd).
        cls.postfix.stop()
        cls.postfix.settings["smtpd_discard_ehlo_keywords"] = "8bitmime"
        cls.postfix.start()

    def assert_7bit(self, message):
        self.assertTrue(all(octet < 128 for octet in message), message)

    def test_8bit_text_arrives_as_quoted_printable(self):
        self.start()
        text = "Grüße aus Köln = eine Zeile mit Umlauten: äöü ÄÖÜ ß, " * 3 + "\r\n" + \
            ".Punkt am Anfang\r\n"
        token = self.relay(b"Subject: converted\r\nMIME-Version: 1.0\r\n"
                           b"Content-Type: text/plain; charset=utf-8\r\n"
                           b"Content-Transfer-Encoding: 8bit\r\n", text.encode(), body_8bit=True)
        message = self.wait_arrival(token)
        self.assert_7bit(message)
        parsed = email.message_from_bytes(message, policy=email.policy.default)
        self.assertEqual(parsed["Content-Transfer-Encoding"], "quoted-printable")
        self.assertEqual(parsed.get_content(), (text + f"token {token}\r\n").replace("\r\n", "\n"))
        for line in self.body_of(message).split(b"\n"):
            self.assertLessEqual(len(line), 76, line)
        self.assertIn("discarding EHLO keywords: 8BITMIME", self.postfix.log())
        self.assertEqual(self.postfix_commands().get("bdat"), 1)
        attempt = self.attempts(token)[0]
        self.assertIn("transfer=BDAT converted=7bit", attempt["detail"])

    def test_mail_without_mime_headers_becomes_text_plain(self):
        self.start()
        token = self.relay(b"Subject: no MIME\r\n", "naïve café\r\n".encode(), body_8bit=True)
        message = self.wait_arrival(token)
        self.assert_7bit(message)
        parsed = email.message_from_bytes(message, policy=email.policy.compat32)
        self.assertEqual(parsed["MIME-Version"], "1.0")
        self.assertEqual(parsed["Content-Type"], "text/plain; charset=unknown-8bit")
        self.assertEqual(parsed["Content-Transfer-Encoding"], "quoted-printable")
        self.assertEqual(parsed.get_payload(decode=True),
                         "naïve café\n".encode() + f"token {token}\n".encode())

    def test_multipart_attachment_arrives_as_base64(self):
        self.start()
        attachment = bytes(range(128, 256)) * 4
        body = (b"--sep\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Content-Transfer-Encoding: 8bit\r\n\r\nVoil\xc3\xa0.\r\n"
                b"--sep\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Transfer-Encoding: binary\r\n\r\n" + attachment + b"\r\n--sep--\r\n")
        token = self.relay(b"Subject: parts\r\nMIME-Version: 1.0\r\n"
                           b"Content-Type: multipart/mixed; boundary=sep\r\n", body, body_8bit=True)
        message = self.wait_arrival(token)
        self.assert_7bit(message)
        parsed = email.message_from_bytes(message, policy=email.policy.compat32)
        text, binary = parsed.get_payload()
        self.assertEqual(text["Content-Transfer-Encoding"], "quoted-printable")
        self.assertEqual(text.get_payload(decode=True), "Voilà.".encode())
        self.assertEqual(binary["Content-Transfer-Encoding"], "base64")
        self.assertEqual(binary.get_payload(decode=True), attachment)

    def test_8bit_header_bounces_with_5_6_3(self):
        self.start()
        token = self.relay("Subject: Grüße\r\n".encode(), b"ASCII body\r\n", body_8bit=True)
        bounces = self.bulwark.wait_delivered("alice", 1, timeout=30)
        self.assertEqual(len(bounces), 1, "no bounce reached alice" + self.diagnostics())
        bounce = email.message_from_bytes(bounces[0], policy=email.policy.default)
        status = next(part for part in bounce.walk()
                      if part.get_content_type() == "message/delivery-status")
        self.assertIn("Status: 5.6.3", str(status))
        self.assertIn("8-bit octets in the header field Subject", bounces[0].decode("utf-8", "replace"))
        self.assert_not_arrived(token, grace=0)
        attempt = self.attempts(token)[0]
        self.assertRegex(attempt["detail"], r'reply="554 5\.6\.3 ')


if __name__ == "__main__":
    unittest.main(verbosity=2)
