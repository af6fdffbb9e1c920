"""Every limit of a receive connector, one past its value: message size (552), header size (552),
line length (500), recipients (452), connections per client and in all (421), command and data
timeouts (421 4.4.2), errors before disconnect (421), AUTH failures per client (421)."""

import base64
import time
import unittest

from bulwark_harness import BulwarkServer, SmtpConnection

LIMITS = """[receive_connector.limits]
max_message_size = 2000
max_header_size = 600
max_line_length = 600
max_recipients = 3
max_connections_per_client = 3
command_timeout_seconds = 2
data_timeout_seconds = 2
max_errors = 4
max_auth_failures = 2"""


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BulwarkServer(
            connectors=['name = "default"\nlisten = "127.0.0.1:0"\ntls = "starttls"\nauth = true\n' + LIMITS],
            extra="max_connections = 50",
            users={"limit@example.test": "right password"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def connect(self):
        connection = SmtpConnection(self.server.port())
        self.addCleanup(connection.close)
        self.assertEqual(connection.reply()[0], 220)
        return connection

    def session(self):
        connection = self.connect()
        self.assertEqual(connection.command("EHLO client.test")[0], 250)
        return connection

    def data(self, connection, message):
        self.assertEqual(connection.command("MAIL FROM:<s@remote.test>")[0], 250)
        self.assertEqual(connection.command("RCPT TO:<limits@example.test>")[0], 250)
        self.assertEqual(connection.command("DATA")[0], 354)
        connection.send(message + ".\r\n")
        return connection.reply()

    def test_size_parameter_over_limit(self):
        connection = self.session()
        self.assertEqual(connection.command("MAIL FROM:<s@remote.test> SIZE=2000")[0], 250)
        connection.command("RSET")
        code, lines = connection.command("MAIL FROM:<s@remote.test> SIZE=2001")
        self.assertEqual((code, lines[0][4:9]), (552, "5.3.4"))

    def test_message_size(self):
        connection = self.session()
        header = "Subject: size\r\n\r\n"
        line = "x" * 98 + "\r\n"
        fits = header + line * ((2000 - len(header)) // 100)
        over = fits + "y" * (2000 - len(fits) - 1) + "\r\n"
        self.assertEqual(len(over), 2001)
        # The Received header we add is not counted against the client's size.
        self.assertEqual(self.data(connection, fits)[0], 250)
        code, lines = self.data(connection, over)
        self.assertEqual((code, lines[0][4:9]), (552, "5.3.4"))
        self.assertEqual(connection.command("NOOP")[0], 250, "session stays usable")

    def test_header_size(self):
        connection = self.session()
        header = "".join(f"X-Filler-{i}: {'h' * 40}\r\n" for i in range(20))
        code, lines = self.data(connection, header + "\r\nbody\r\n")
        self.assertEqual((code, lines[0][4:9]), (552, "5.3.4"))

    def test_line_length(self):
        connection = self.session()
        self.assertEqual(self.data(connection, "Subject: ok\r\n\r\n" + "z" * 598 + "\r\n")[0], 250)
        code, lines = self.data(connection, "Subject: long\r\n\r\n" + "z" * 599 + "\r\n")
        self.assertEqual((code, lines[0][4:9]), (500, "5.5.2"))
        code, lines = connection.command("NOOP " + "n" * 600)
        self.assertEqual((code, lines[0][4:9]), (500, "5.5.6"))
        self.assertEqual(connection.command("NOOP")[0], 250)

    def test_recipients(self):
        connection = self.session()
        connection.command("MAIL FROM:<s@remote.test>")
        for index in range(3):
            self.assertEqual(connection.command(f"RCPT TO:<r{index}@example.test>")[0], 250)
        code, lines = connection.command("RCPT TO:<r3@example.test>")
        self.assertEqual((code, lines[0][4:9]), (452, "4.5.3"))

    def test_connections_per_client(self):
        time.sleep(0.5)  # let the server notice earlier tests' connections closing
        first = [self.connect() for _ in range(3)]
        extra = SmtpConnection(self.server.port())
        self.addCleanup(extra.close)
        code, lines = extra.reply()
        self.assertEqual((code, lines[0][4:9]), (421, "4.7.0"))
        for connection in first:
            connection.command("QUIT")
        time.sleep(0.3)
        self.connect()  # a slot is free again

    def test_command_timeout(self):
        connection = self.session()
        started = time.time()
        code, lines = connection.reply()  # we send nothing
        self.assertEqual((code, lines[0][4:9]), (421, "4.4.2"))
        self.assertLess(time.time() - started, 10)
        self.assertTrue(connection.closed())

    def test_data_timeout(self):
        connection = self.session()
        connection.command("MAIL FROM:<s@remote.test>")
        connection.command("RCPT TO:<slow@example.test>")
        self.assertEqual(connection.command("DATA")[0], 354)
        connection.send("Subject: slow\r\n")
        code, lines = connection.reply()
        self.assertEqual((code, lines[0][4:9]), (421, "4.4.2"))
        self.assertEqual(self.server.delivered("slow"), [])

    def test_errors_before_disconnect(self):
        connection = self.session()
        for _ in range(3):
            self.assertEqual(connection.command("BOGUS")[0], 500)
        connection.send("BOGUS\r\n")
        self.assertEqual(connection.reply()[0], 500)
        code, lines = connection.reply()
        self.assertEqual((code, lines[0][4:9]), (421, "4.7.0"))
        self.assertTrue(connection.closed())

    def test_auth_failures_per_client(self):
        token = base64.b64encode(b"\0limit@example.test\0wrong").decode()
        for _ in range(2):
            connection = self.session()
            connection.starttls()
            connection.command("EHLO client.test")
            self.assertEqual(connection.command(f"AUTH PLAIN {token}")[0], 535)
            connection.close()
        connection = self.session()
        connection.starttls()
        connection.command("EHLO client.test")
        code, lines = connection.command(f"AUTH PLAIN {token}")
        self.assertEqual((code, lines[0][4:9]), (421, "4.7.0"))


class TotalConnectionsTest(unittest.TestCase):
    def test_max_connections(self):
        with BulwarkServer(extra="max_connections = 2") as server:
            held = []
            for _ in range(2):
                connection = SmtpConnection(server.port())
                held.append(connection)
                self.assertEqual(connection.reply()[0], 220)
            extra = SmtpConnection(server.port())
            code, lines = extra.reply()
            self.assertEqual((code, lines[0][4:9]), (421, "4.7.0"))
            for connection in held + [extra]:
                connection.close()


if __name__ == "__main__":
    unittest.main()
