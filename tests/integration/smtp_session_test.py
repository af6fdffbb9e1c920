"""The SMTP conversation of `bulwark serve` end to end (RFC 5321, 3207, 4954, 3030, 2920, 8689):
extensions offered before and after TLS, enhanced status codes on every reply, each command's
answer, pipelining, BDAT, STARTTLS injection (CVE-2011-0411), AUTH, submission fix-ups, delivery."""

import re
import unittest

from bulwark_harness import BulwarkServer, SmtpConnection, simple_message

ENHANCED = re.compile(r"^\d{3}[ -][245]\.\d{1,3}\.\d{1,3}( |$)")


class SmtpSessionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BulwarkServer(
            connectors=[
                # Several tests here fail AUTH on purpose; the per-client limit is tested in limits_test.
                'name = "default"\nlisten = "127.0.0.1:0"\ntls = "starttls"\nauth = true\n'
                '[receive_connector.limits]\nmax_auth_failures = 50',
                'name = "smtps"\nlisten = "127.0.0.1:0"\ntls = "implicit"\nauth = true',
                'name = "strict"\nlisten = "127.0.0.1:0"\ntls = "required"\nauth = true',
            ],
            users={"alice@example.test": "correct horse"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def connect(self, name="default", implicit_tls=False):
        connection = SmtpConnection(self.server.port(name), implicit_tls=implicit_tls)
        self.addCleanup(connection.close)
        code, lines = connection.reply()
        self.assertEqual(code, 220)
        self.assertIn("mx.example.test", lines[0])
        return connection

    def assertEnhanced(self, reply):
        code, lines = reply
        for line in lines:
            self.assertRegex(line, ENHANCED, f"reply without enhanced status code: {lines}")

    def ehlo(self, connection):
        code, lines = connection.command("EHLO client.test")
        self.assertEqual(code, 250)
        return [line[4:] for line in lines[1:]]

    def test_extensions_before_and_after_tls(self):
        connection = self.connect()
        keywords = self.ehlo(connection)
        for keyword in ["PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING",
                        "DSN", "STARTTLS"]:
            self.assertIn(keyword, keywords)
        self.assertTrue(any(k.startswith("SIZE ") for k in keywords))
        self.assertFalse(any(k.startswith("AUTH") for k in keywords), "AUTH offered in clear")
        self.assertNotIn("REQUIRETLS", keywords)
        connection.starttls()
        keywords = self.ehlo(connection)
        self.assertIn("AUTH PLAIN LOGIN", keywords)
        self.assertIn("REQUIRETLS", keywords)
        self.assertNotIn("STARTTLS", keywords)

    def test_every_reply_has_an_enhanced_code(self):
        connection = self.connect()
        self.ehlo(connection)
        for line in ["NOOP", "HELP", "VRFY alice", "EXPN staff", "RSET", "BOGUS",
                     "MAIL FROM:<bad", "RCPT TO:<alice@example.test>", "DATA",
                     "MAIL FROM:<a@remote.test> FOO=BAR", "MAIL FROM:<a@remote.test>",
                     "RCPT TO:<x@remote.test>", "RCPT TO:<alice@example.test>", "RSET", "QUIT"]:
            self.assertEnhanced(connection.command(line))

    def test_command_replies(self):
        connection = self.connect()
        self.assertEqual(connection.command("MAIL FROM:<a@remote.test>")[0], 503)  # no EHLO
        self.ehlo(connection)
        self.assertEqual(connection.command("HELP")[0], 214)
        self.assertEqual(connection.command("VRFY alice")[0], 252)
        self.assertEqual(connection.command("EXPN staff")[0], 502)
        self.assertEqual(connection.command("NOOP")[0], 250)
        self.assertEqual(connection.command("FROB")[0], 500)
        self.assertEqual(connection.command("RCPT TO:<alice@example.test>")[0], 503)
        self.assertEqual(connection.command("DATA")[0], 503)
        self.assertEqual(connection.command("MAIL FROM:<a@remote.test>")[0], 250)
        self.assertEqual(connection.command("MAIL FROM:<a@remote.test>")[0], 503)  # nested
        self.assertEqual(connection.command("DATA")[0], 554)  # no recipients
        self.assertEqual(connection.command("RSET")[0], 250)
        self.assertEqual(connection.command("AUTH PLAIN AGFsaWNlAHg=")[0], 538)  # clear text
        self.assertEqual(connection.command("QUIT")[0], 221)
        self.assertTrue(connection.closed())

    def send_message(self, connection, recipient, message, sender="sender@remote.test",
                     mail_parameters=""):
        self.assertEqual(connection.command(f"MAIL FROM:<{sender}>{mail_parameters}")[0], 250)
        self.assertEqual(connection.command(f"RCPT TO:<{recipient}>")[0], 250)
        self.assertEqual(connection.command("DATA")[0], 354)
        connection.send(message + ".\r\n")
        return connection.reply()

    def test_delivery_adds_received_and_return_path(self):
        connection = self.connect()
        self.ehlo(connection)
        code, lines = self.send_message(connection, "bob@example.test",
                                        simple_message("delivery one", recipient="bob@example.test"))
        self.assertEqual(code, 250, lines)
        self.assertEnhanced((code, lines))
        queue_id = lines[0].split()[-1]
        messages = self.server.wait_delivered("bob", 1)
        self.assertEqual(len(messages), 1)
        text = messages[0].decode()
        self.assertTrue(text.startswith("Return-Path: <sender@remote.test>\n"), text[:200])
        self.assertRegex(text, r"Received: from client\.test \(\[127\.0\.0\.1\]\)\n\tby mx\.example\.test "
                               r"\(Bulwark\) with ESMTP id " + queue_id)
        self.assertIn("Subject: delivery one", text)
        self.assertNotIn("\r\n", text, "Maildir files use LF line endings")

    def test_our_own_headers_are_removed_from_incoming_mail(self):
        connection = self.connect()
        self.ehlo(connection)
        forged = ("X-Bulwark-Auth-As: Partner\r\nX-BULWARK-Auth-Domain: partner.test\r\n"
                  "\tcontinued\r\n")
        code, _ = self.send_message(connection, "forged@example.test",
                                    simple_message("forged", recipient="forged@example.test",
                                                   extra_headers=forged))
        self.assertEqual(code, 250)
        text = self.server.wait_delivered("forged", 1)[0].decode()
        header = text.split("\n\n", 1)[0]
        self.assertNotIn("bulwark-auth", header.lower())
        self.assertNotIn("continued", header)
        self.assertIn("Subject: forged", header)

    def test_dot_stuffing_and_exact_body(self):
        connection = self.connect()
        self.ehlo(connection)
        body = "line one\r\n..leading dot\r\n.\tdot tab\r\nlast\r\n"
        code, _ = self.send_message(connection, "dots@example.test",
                                    simple_message("dots", body=body, recipient="dots@example.test"))
        self.assertEqual(code, 250)
        text = self.server.wait_delivered("dots", 1)[0].decode()
        self.assertIn("\n\nline one\n.leading dot\n\tdot tab\nlast\n", text)

    def test_pipelined_transaction(self):
        connection = self.connect()
        self.ehlo(connection)
        connection.send("MAIL FROM:<p@remote.test>\r\nRCPT TO:<pipe@example.test>\r\n"
                        "RCPT TO:<x@elsewhere.test>\r\nRCPT TO:<pipe2@example.test>\r\nDATA\r\n")
        codes = [connection.reply()[0] for _ in range(5)]
        self.assertEqual(codes, [250, 250, 554, 250, 354])
        connection.send(simple_message("pipelined", recipient="pipe@example.test") + ".\r\nNOOP\r\n")
        self.assertEqual(connection.reply()[0], 250)
        self.assertEqual(connection.reply()[0], 250)
        self.assertEqual(len(self.server.wait_delivered("pipe", 1)), 1)
        self.assertEqual(len(self.server.wait_delivered("pipe2", 1)), 1)

    def test_bdat_chunks(self):
        connection = self.connect()
        self.ehlo(connection)
        message = simple_message("chunked", body="first part\r\n.not stuffed\r\n",
                                 recipient="chunks@example.test").encode()
        split = len(message) // 2
        connection.send("MAIL FROM:<c@remote.test>\r\nRCPT TO:<chunks@example.test>\r\n")
        self.assertEqual(connection.reply()[0], 250)
        self.assertEqual(connection.reply()[0], 250)
        connection.send(f"BDAT {split}\r\n".encode() + message[:split] +
                        f"BDAT {len(message) - split} LAST\r\n".encode() + message[split:])
        self.assertEqual(connection.reply()[0], 250)
        code, lines = connection.reply()
        self.assertEqual(code, 250, lines)
        self.assertIn("Queued", lines[0])
        self.assertEqual(connection.command("DATA")[0], 503)  # no transaction any more
        text = self.server.wait_delivered("chunks", 1)[0].decode()
        self.assertIn("\n.not stuffed\n", text)
        self.assertIn("Subject: chunked", text)

    def test_bdat_without_transaction_consumes_chunk(self):
        connection = self.connect()
        self.ehlo(connection)
        connection.send("BDAT 12\r\nNOOP\r\nNOOP\r\n")  # the 12 bytes are data, not commands
        self.assertEqual(connection.reply()[0], 503)
        self.assertEqual(connection.command("NOOP")[0], 250)

    def test_starttls_discards_pipelined_plaintext(self):
        connection = self.connect()
        self.ehlo(connection)
        connection.send("STARTTLS\r\nMAIL FROM:<injected@remote.test>\r\n")
        code, _ = connection.reply()
        self.assertEqual(code, 220)
        connection.sock = connection._wrap(connection.sock)
        connection.buffer = b""
        # The injected MAIL must not have been obeyed, and the session is reset: EHLO first.
        self.assertEqual(connection.command("MAIL FROM:<a@remote.test>")[0], 503)
        self.ehlo(connection)
        self.assertEqual(connection.command("MAIL FROM:<a@remote.test>")[0], 250)

    def test_received_header_records_tls(self):
        connection = self.connect()
        self.ehlo(connection)
        connection.starttls()
        self.ehlo(connection)
        code, _ = self.send_message(connection, "tls@example.test",
                                    simple_message("over tls", recipient="tls@example.test"),
                                    mail_parameters=" REQUIRETLS")
        self.assertEqual(code, 250)
        text = self.server.wait_delivered("tls", 1)[0].decode()
        self.assertRegex(text, r"with ESMTPS id \w+\n\t\(version=TLSv1\.[23] cipher=\S+ bits=\d+\)")

    def test_requiretls_refused_in_clear(self):
        connection = self.connect()
        self.ehlo(connection)
        code, lines = connection.command("MAIL FROM:<a@remote.test> REQUIRETLS")
        self.assertEqual(code, 530)
        self.assertIn("5.7.10", lines[0])

    def auth_plain(self, connection, user, password):
        import base64
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return connection.command(f"AUTH PLAIN {token}")

    def test_auth_plain_login_and_submission_fixups(self):
        import base64
        connection = self.connect()
        self.ehlo(connection)
        connection.starttls()
        self.ehlo(connection)
        self.assertEqual(self.auth_plain(connection, "alice@example.test", "wrong")[0], 535)
        self.assertEqual(connection.command("AUTH LOGIN")[0], 334)
        self.assertEqual(connection.command(base64.b64encode(b"alice@example.test").decode())[0], 334)
        code, lines = connection.command(base64.b64encode(b"correct horse").decode())
        self.assertEqual(code, 235, lines)
        self.assertEqual(self.auth_plain(connection, "alice@example.test", "correct horse")[0], 503)
        # Authenticated: relay allowed, and Message-ID / Date are added when missing.
        message = "From: <alice@example.test>\r\nSubject: submitted\r\n\r\nhi\r\n"
        self.assertEqual(connection.command("MAIL FROM:<alice@example.test>")[0], 250)
        self.assertEqual(connection.command("RCPT TO:<someone@remote.test>")[0], 250)
        self.assertEqual(connection.command("RCPT TO:<submitted@example.test>")[0], 250)
        self.assertEqual(connection.command("DATA")[0], 354)
        connection.send(message + ".\r\n")
        self.assertEqual(connection.reply()[0], 250)
        text = self.server.wait_delivered("submitted", 1)[0].decode()
        self.assertRegex(text, r"\nMessage-ID: <[0-9A-Z.]+@mx\.example\.test>\n")
        self.assertRegex(text, r"\nDate: \w{3}, \d{2} \w{3} \d{4} ")
        self.assertIn("with ESMTPSA id", text)

    def test_auth_plain_with_separate_response(self):
        import base64
        connection = self.connect()
        self.ehlo(connection)
        connection.starttls()
        self.ehlo(connection)
        self.assertEqual(connection.command("AUTH PLAIN")[0], 334)
        token = base64.b64encode(b"\0alice@example.test\0correct horse").decode()
        self.assertEqual(connection.command(token)[0], 235)

    def test_store_users_managed_while_running(self):
        import subprocess
        from bulwark_harness import BINARY
        def user(*arguments, password=None):
            return subprocess.run([BINARY, "user", *arguments, "--config", self.server.config_path],
                                  input=password, capture_output=True, text=True)
        def try_auth(password):
            connection = self.connect()
            self.ehlo(connection)
            connection.starttls()
            self.ehlo(connection)
            return self.auth_plain(connection, "Dora@example.test", password)[0]
        self.assertEqual(try_auth("dora's words"), 535)
        added = user("add", "Dora@example.test", password="dora's words\n")
        self.assertEqual(added.returncode, 0, added.stderr)
        self.assertIn("Dora@example.test", user("list").stdout)
        self.assertNotIn("dora's words", user("list").stdout)
        self.assertEqual(try_auth("dora's words"), 235)      # no restart needed
        self.assertEqual(try_auth("wrong"), 535)
        self.assertEqual(user("delete", "dora@example.test").returncode, 0)
        self.assertEqual(try_auth("dora's words"), 535)
        self.assertEqual(user("delete", "dora@example.test").returncode, 1)
        self.assertEqual(user("add", "bad name", password="x\n").returncode, 2)

    def test_unauthenticated_message_keeps_missing_headers_missing(self):
        connection = self.connect()
        self.ehlo(connection)
        code, _ = self.send_message(connection, "plain@example.test",
                                    "Subject: bare\r\n\r\nno id\r\n")
        self.assertEqual(code, 250)
        text = self.server.wait_delivered("plain", 1)[0].decode()
        self.assertNotIn("Message-ID:", text)
        self.assertNotIn("\nDate:", text)

    def test_implicit_tls_connector(self):
        connection = self.connect("smtps", implicit_tls=True)
        keywords = self.ehlo(connection)
        self.assertIn("AUTH PLAIN LOGIN", keywords)
        self.assertNotIn("STARTTLS", keywords)
        code, _ = self.send_message(connection, "implicit@example.test",
                                    simple_message("implicit", recipient="implicit@example.test"))
        self.assertEqual(code, 250)
        self.assertIn("with ESMTPS", self.server.wait_delivered("implicit", 1)[0].decode())

    def test_required_tls_connector(self):
        connection = self.connect("strict")
        self.ehlo(connection)
        code, lines = connection.command("MAIL FROM:<a@remote.test>")
        self.assertEqual(code, 530)
        connection.starttls()
        self.ehlo(connection)
        self.assertEqual(connection.command("MAIL FROM:<a@remote.test>")[0], 250)

    def test_smtputf8(self):
        connection = self.connect()
        self.ehlo(connection)
        self.assertEqual(connection.command("MAIL FROM:<jöran@remote.test>")[0], 553)
        self.assertEqual(connection.command("MAIL FROM:<jöran@remote.test> SMTPUTF8")[0], 250)
        self.assertEqual(connection.command("RCPT TO:<müller@example.test>")[0], 250)
        self.assertEqual(connection.command("DATA")[0], 354)
        connection.send("Subject: utf8\r\n\r\nhej\r\n.\r\n")
        self.assertEqual(connection.reply()[0], 250)
        self.assertIn("with UTF8SMTP", self.server.wait_delivered("müller", 1)[0].decode())


if __name__ == "__main__":
    unittest.main()
