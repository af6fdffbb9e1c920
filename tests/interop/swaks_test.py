"""Interop with swaks, a real SMTP client: plain, STARTTLS, AUTH PLAIN/LOGIN under TLS (and refused
without it), PIPELINING, implicit TLS, and BDAT (through the harness, as swaks has no BDAT). Each
case checks the Maildir content, the Received header Bulwark added, and `bulwark trace`."""

import email.parser
import os
import subprocess
import sys
import time
import unittest
import uuid

from bulwark_harness import BulwarkServer, SmtpConnection

SWAKS = "/usr/bin/swaks"
USER = "carol@example.test"
PASSWORD = "correct horse battery staple"


def bulwark_received_header(message_bytes):
    """The first Received header: the one Bulwark prepended."""
    message = email.parser.BytesParser().parsebytes(message_bytes, headersonly=True)
    received = message.get_all("Received") or []
    if not received:
        raise AssertionError("no Received header in:\n" + message_bytes[:2000].decode("utf-8", "replace"))
    return " ".join(received[0].split())


class SwaksTest(unittest.TestCase):
    # A server per test, so that one crash shows up in one test, not in all that follow.
    def setUp(self):
        connectors = [
            'name = "default"\nlisten = "127.0.0.1:0"\ntls = "starttls"\nauth = true',
            'name = "implicit"\nlisten = "127.0.0.1:0"\ntls = "implicit"\nauth = true',
        ]
        self.server = BulwarkServer(connectors=connectors, users={USER: PASSWORD}).start()

    def tearDown(self):
        exit_status = self.server.process.poll()
        if exit_status is not None or os.environ.get("BULWARK_KEEP_LOG"):
            print(f"\nserver exit status: {exit_status}\n" + "\n".join(self.server.log_lines[-60:]),
                  file=sys.stderr)
        self.server.cleanup()
        self.assertIsNone(exit_status, "bulwark serve died during the test")

    # ---- helpers ----
    def swaks(self, local_part, token, *options, connector="default", expect_success=True):
        arguments = [SWAKS, "--server", f"127.0.0.1:{self.server.port(connector)}",
                     "--helo", "client.remote.test", "--from", f"sender-{token}@remote.test",
                     "--to", f"{local_part}@example.test", "--timeout", "30",
                     "--header", f"Subject: interop {token}",
                     "--header", f"Message-Id: <{token}@remote.test>",
                     "--body", f"Body line with token {token}.", *options]
        result = subprocess.run(arguments, capture_output=True, text=True, timeout=120)
        if expect_success:
            self.assertEqual(result.returncode, 0,
                             f"swaks failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n"
                             f"server exit status: {self.server.process.poll()}")
        return result

    def delivered_message(self, local_part, token, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for message in self.server.delivered(local_part):
                if token.encode() in message:
                    return message
            time.sleep(0.05)
        self.fail(f"message {token} not found in the Maildir of {local_part}; "
                  f"{len(self.server.delivered(local_part))} other message(s) there")

    def check_trace(self, local_part, token, tls=False, auth_user=""):
        sender = f"sender-{token}@remote.test"
        recipient = f"{local_part}@example.test"
        message_id = f"{token}@remote.test"

        def about_this_message(events):
            return [event for event in events if message_id in event.get("message_id", "")]

        by_sender = self.server.wait_trace(lambda events: about_this_message(events), "--sender", sender)
        by_recipient = self.server.wait_trace(lambda events: about_this_message(events),
                                              "--recipient", recipient)
        self.assertTrue(about_this_message(by_sender), f"trace --sender {sender} found {by_sender}")
        self.assertTrue(about_this_message(by_recipient), f"trace --recipient {recipient} found {by_recipient}")
        received = [event for event in about_this_message(by_recipient) if event["status"] == "received"]
        self.assertTrue(received, f"no 'received' event in {by_recipient}")
        event = received[0]
        self.assertEqual(event["sender"].lower(), sender)
        self.assertIn(recipient, [address.lower() for address in event["recipients"]])
        if tls:
            self.assertTrue(event["tls_version"].startswith("TLSv1."), event)
        else:
            self.assertEqual(event["tls_version"], "", event)
        self.assertEqual(event["auth_user"], auth_user, event)

    def check_message(self, local_part, token, protocol, tls):
        message = self.delivered_message(local_part, token)
        self.assertIn(f"Subject: interop {token}".encode(), message)
        self.assertIn(f"Body line with token {token}.".encode(), message)
        received = bulwark_received_header(message)
        self.assertIn("by mx.example.test (Bulwark)", received)
        self.assertIn(f"with {protocol} ", received)
        if tls:
            self.assertRegex(received, r"version=TLSv1\.[23] cipher=\S+ bits=\d+")
        else:
            self.assertNotIn("version=TLS", received)
        self.assertIn(f"for <{local_part}@example.test>", received)
        return message

    @staticmethod
    def new_token():
        return "t" + uuid.uuid4().hex[:16]

    # ---- the cases ----
    def test_plain(self):
        token = self.new_token()
        self.swaks("plain", token)
        self.check_message("plain", token, "ESMTP", tls=False)
        self.check_trace("plain", token)

    def test_starttls(self):
        token = self.new_token()
        result = self.swaks("starttls", token, "-tls")
        self.assertIn("TLS started", result.stdout)
        self.check_message("starttls", token, "ESMTPS", tls=True)
        self.check_trace("starttls", token, tls=True)

    def test_auth_plain_over_starttls(self):
        token = self.new_token()
        result = self.swaks("authplain", token, "-tls", "-a", "PLAIN", "-au", USER, "-ap", PASSWORD)
        self.assertRegex(result.stdout, r"<~\s+235")
        self.check_message("authplain", token, "ESMTPSA", tls=True)
        self.check_trace("authplain", token, tls=True, auth_user=USER)

    def test_auth_login_over_starttls(self):
        token = self.new_token()
        result = self.swaks("authlogin", token, "-tls", "-a", "LOGIN", "-au", USER, "-ap", PASSWORD)
        self.assertRegex(result.stdout, r"<~\s+235")
        self.check_message("authlogin", token, "ESMTPSA", tls=True)
        self.check_trace("authlogin", token, tls=True, auth_user=USER)

    def test_auth_wrong_password_refused(self):
        token = self.new_token()
        result = self.swaks("authwrong", token, "-tls", "-a", "PLAIN", "-au", USER, "-ap", "wrong",
                            expect_success=False)
        self.assertNotEqual(result.returncode, 0, result.stdout)
        self.assertRegex(result.stdout, r"<~\*\s+535")
        time.sleep(0.5)
        self.assertEqual(self.server.delivered("authwrong"), [])

    def test_auth_refused_without_tls(self):
        token = self.new_token()
        result = self.swaks("authnotls", token, "-a", "PLAIN", "-au", USER, "-ap", PASSWORD,
                            expect_success=False)
        self.assertNotEqual(result.returncode, 0, f"swaks authenticated without TLS:\n{result.stdout}")
        # Not even advertised in plaintext, and refused when tried anyway.
        connection = SmtpConnection(self.server.port())
        try:
            self.assertEqual(connection.reply()[0], 220)
            code, lines = connection.command("EHLO client.remote.test")
            self.assertEqual(code, 250)
            self.assertFalse([line for line in lines if line[4:].upper().startswith("AUTH")], lines)
            code, lines = connection.command("AUTH PLAIN AGNhcm9sQGV4YW1wbGUudGVzdABwYXNzd29yZA==")
            self.assertGreaterEqual(code, 500, lines)
            self.assertLess(code, 600, lines)
        finally:
            connection.close()
        time.sleep(0.5)
        self.assertEqual(self.server.delivered("authnotls"), [])

    def test_pipelining(self):
        token = self.new_token()
        result = self.swaks("pipeline", token, "--pipeline")
        self.assertNotIn("does not support PIPELINING", result.stdout)
        self.check_message("pipeline", token, "ESMTP", tls=False)
        self.check_trace("pipeline", token)

    def test_pipelining_over_starttls(self):
        token = self.new_token()
        self.swaks("pipelinetls", token, "--pipeline", "-tls")
        self.check_message("pipelinetls", token, "ESMTPS", tls=True)
        self.check_trace("pipelinetls", token, tls=True)

    def test_implicit_tls(self):
        token = self.new_token()
        result = self.swaks("implicit", token, "--tls-on-connect", connector="implicit")
        self.assertIn("TLS started", result.stdout)
        self.check_message("implicit", token, "ESMTPS", tls=True)
        self.check_trace("implicit", token, tls=True)

    def bdat(self, local_part, token, use_tls):
        connection = SmtpConnection(self.server.port())
        try:
            self.assertEqual(connection.reply()[0], 220)
            code, lines = connection.command("EHLO client.remote.test")
            self.assertEqual(code, 250)
            if use_tls:
                connection.starttls()
                code, lines = connection.command("EHLO client.remote.test")
                self.assertEqual(code, 250)
            self.assertIn("CHUNKING", [line[4:].upper() for line in lines], lines)
            self.assertEqual(connection.command(f"MAIL FROM:<sender-{token}@remote.test>")[0], 250)
            self.assertEqual(connection.command(f"RCPT TO:<{local_part}@example.test>")[0], 250)
            header = (f"From: <sender-{token}@remote.test>\r\nTo: <{local_part}@example.test>\r\n"
                      f"Subject: interop {token}\r\nMessage-Id: <{token}@remote.test>\r\n"
                      "Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n").encode()
            # A body line starting with a dot must stay as it is: BDAT has no dot-stuffing.
            body = f"Body line with token {token}.\r\n.leading dot stays\r\n".encode()
            connection.send(f"BDAT {len(header)}\r\n".encode() + header)
            code, lines = connection.reply()
            self.assertEqual(code, 250, lines)
            connection.send(f"BDAT {len(body)} LAST\r\n".encode() + body)
            code, lines = connection.reply()
            self.assertEqual(code, 250, lines)
            self.assertEqual(connection.command("QUIT")[0], 221)
        finally:
            connection.close()
        message = self.check_message(local_part, token, "ESMTPS" if use_tls else "ESMTP", tls=use_tls)
        self.assertIn(b"\r\n.leading dot stays\r\n", message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        self.assertNotIn(b"..leading dot", message)
        self.check_trace(local_part, token, tls=use_tls)

    def test_bdat(self):
        self.bdat("bdat", self.new_token(), use_tls=False)

    def test_bdat_over_starttls(self):
        self.bdat("bdattls", self.new_token(), use_tls=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
