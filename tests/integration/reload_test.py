"""SIGHUP reloads `bulwark serve`: a good file is applied (a new local domain is accepted after the
reload, mail accepted before it is still delivered), a broken file is refused with its problems
logged while the running configuration stays and keeps serving."""

import signal
import time
import unittest

from bulwark_harness import BulwarkServer, SmtpConnection


def send(port, recipient, subject):
    connection = SmtpConnection(port)
    try:
        assert connection.reply()[0] == 220
        assert connection.command("EHLO client.test")[0] == 250
        assert connection.command("MAIL FROM:<sender@remote.test>")[0] == 250
        code = connection.command(f"RCPT TO:<{recipient}>")[0]
        if code != 250:
            return code
        assert connection.command("DATA")[0] == 354
        return connection.command(f"Subject: {subject}\r\n\r\nbody\r\n.")[0]
    finally:
        connection.close()


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.server = BulwarkServer().start()
        self.addCleanup(self.server.cleanup)

    def read_ports(self, timeout=30):
        """After a reload the program starts again on the same stdout; port 0 means new ports."""
        ports = {}
        deadline = time.time() + timeout
        while len(ports) < len(self.server.connectors):
            line = self.server.process.stdout.readline()
            self.assertTrue(line, "bulwark serve exited during the reload:\n" +
                            "\n".join(self.server.log_lines))
            words = line.split()
            if len(words) == 5 and words[:2] == ["ready", "smtp"]:
                ports[words[2]] = int(words[4])
            self.assertLess(time.time(), deadline, "not ready again in time")
        self.server.ports = ports

    def wait_log(self, text, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(text in line for line in self.server.log_lines):
                return
            time.sleep(0.05)
        self.fail(f"no log line with {text!r}:\n" + "\n".join(self.server.log_lines))

    def test_a_good_file_is_applied(self):
        self.assertEqual(send(self.server.port(), "someone@other.test", "before"), 554)
        self.assertEqual(send(self.server.port(), "anna@example.test", "accepted before"), 250)

        self.server.local_domains = ["example.test", "other.test"]
        self.server.write_config()
        pid = self.server.process.pid
        self.server.process.send_signal(signal.SIGHUP)
        self.read_ports()
        self.assertEqual(self.server.process.poll(), None)
        self.assertEqual(self.server.process.pid, pid)  # the same process, started again

        self.assertEqual(send(self.server.port(), "someone@other.test", "after"), 250)
        self.assertEqual(len(self.server.wait_delivered("someone", 1, domain="other.test")), 1)
        delivered = self.server.wait_delivered("anna", 1)
        self.assertEqual(len(delivered), 1)
        self.assertIn(b"Subject: accepted before", delivered[0])

    def test_a_broken_file_is_refused_and_the_server_keeps_running(self):
        port = self.server.port()
        with open(self.server.config_path, "a") as handle:
            handle.write("\n[delivery]\nport = 0\n")
        self.server.process.send_signal(signal.SIGHUP)
        self.wait_log("the running configuration stays")
        self.assertTrue(any("port" in line for line in self.server.log_lines))
        self.assertEqual(self.server.process.poll(), None)
        self.assertEqual(send(port, "anna@example.test", "still here"), 250)
        self.assertEqual(len(self.server.wait_delivered("anna", 1)), 1)


if __name__ == "__main__":
    unittest.main()
