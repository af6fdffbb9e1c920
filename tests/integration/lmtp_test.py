"""Local domains handed to a downstream mailbox server by LMTP (RFC 2033), through the real
`bulwark serve`: an LMTP peer on loopback TCP and one on a unix socket (tests/support/lmtp_sink.py)
receive the mail with its envelope; per-recipient replies after the data decide each recipient
(550: a bounce to the sender; 452: retried alone, then delivered; 250: delivered once); a mailbox
server that is down keeps the mail queued; `bulwark config check` refuses a mailbox server without
a host."""

import os
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
import unittest

from bulwark_harness import BINARY, BulwarkServer, simple_message
from lmtp_sink import LmtpSink


def closed_port():
    """A loopback port where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


class LmtpDeliveryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.socket_dir = tempfile.mkdtemp(prefix="bulwark-lmtp-")
        cls.tcp = LmtpSink(replies=cls.reply_for)
        cls.unix = LmtpSink(unix_path=os.path.join(cls.socket_dir, "lmtp"))
        cls.server = BulwarkServer(
            extra="queue_retry_seconds = 1\n",
            local_domains=[
                "example.test",
                f'name = "lmtp.test"\ndelivery = "lmtp"\nhost = "127.0.0.1:{cls.tcp.port}"',
                f'name = "socket.test"\ndelivery = "lmtp"\nhost = "unix:{cls.unix.unix_path}"',
                f'name = "down.test"\ndelivery = "lmtp"\nhost = "127.0.0.1:{closed_port()}"',
            ]).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.tcp.stop()
        cls.unix.stop()
        shutil.rmtree(cls.socket_dir, ignore_errors=True)

    @staticmethod
    def reply_for(recipient, seen):
        if recipient.startswith("gone@"):
            return "550 5.1.1 no such mailbox"
        if recipient.startswith("full@") and seen == 0:
            return "452 4.2.2 mailbox over quota"
        return None

    def submit(self, sender, recipients, subject):
        with smtplib.SMTP("127.0.0.1", self.server.port(), timeout=30) as client:
            client.ehlo("client.test")
            refused = client.sendmail(sender, recipients,
                                      simple_message(subject=subject, sender=sender,
                                                     recipient=recipients[0]))
            self.assertEqual(refused, {})

    def diagnostics(self):
        return "\nBulwark log:\n" + "\n".join(self.server.log_lines[-30:])

    def test_mail_arrives_over_tcp_with_its_envelope_in_one_transaction(self):
        self.submit("sender@remote.test", ["anna@lmtp.test", "bert@LMTP.test"], "lmtp tcp")
        saved = wait_for(lambda: len(self.tcp.saved_for("bert@LMTP.test")) == 1 and
                         self.tcp.saved_for("anna@lmtp.test"))
        self.assertTrue(saved, "nothing reached the LMTP server" + self.diagnostics())
        sender, recipient, data = saved[0]
        self.assertEqual(sender, "sender@remote.test")
        self.assertIn(b"Subject: lmtp tcp\r\n", data)
        self.assertIn(b"Received: ", data, "our Received header travels with the message")
        transactions = [t for t in self.tcp.transactions if "anna@lmtp.test" in t[1]]
        self.assertEqual(transactions, [("sender@remote.test", ["anna@lmtp.test", "bert@LMTP.test"])])
        self.assertIn("LHLO mx.example.test", self.tcp.commands)
        self.assertFalse(os.path.exists(self.server.maildir("anna", "lmtp.test")),
                         "an LMTP domain is never written to Maildir")
        events = self.server.wait_trace(
            lambda e: any(x["status"] == "delivered" for x in e) and
            any(x["status"] == "attempt" for x in e), "--recipient", "anna@lmtp.test")
        attempts = [e for e in events if e["status"] == "attempt"]
        self.assertTrue(attempts, events)
        self.assertIn("protocol=lmtp", attempts[0]["detail"])
        self.assertIn(f"[127.0.0.1]:{self.tcp.port}", attempts[0]["detail"])

    def test_mail_arrives_over_a_unix_socket(self):
        self.submit("sender@remote.test", ["carla@socket.test"], "lmtp unix")
        saved = wait_for(lambda: self.unix.saved_for("carla@socket.test"))
        self.assertTrue(saved, "nothing reached the LMTP socket" + self.diagnostics())
        self.assertEqual(saved[0][0], "sender@remote.test")
        self.assertIn(b"Subject: lmtp unix\r\n", saved[0][2])
        events = self.server.wait_trace(lambda e: any(x["status"] == "attempt" for x in e),
                                        "--recipient", "carla@socket.test")
        attempts = [e for e in events if e["status"] == "attempt"]
        self.assertTrue(attempts, events)
        self.assertIn("unix:" + self.unix.unix_path, attempts[0]["detail"])

    def test_refused_recipient_bounces_and_over_quota_one_is_retried(self):
        self.submit("alice@example.test", ["okay@lmtp.test", "gone@lmtp.test", "full@lmtp.test"],
                    "lmtp outcomes")
        bounces = self.server.wait_delivered("alice", 1)
        self.assertEqual(len(bounces), 1, "no bounce for gone@lmtp.test" + self.diagnostics())
        self.assertIn(b"Final-Recipient: rfc822; gone@lmtp.test", bounces[0])
        self.assertIn(b"no such mailbox", bounces[0])
        self.assertNotIn(b"Final-Recipient: rfc822; full@lmtp.test", bounces[0])
        self.assertNotIn(b"Final-Recipient: rfc822; okay@lmtp.test", bounces[0])
        # The 452 one comes back with the retry (queue_retry_seconds = 1) and is saved then.
        saved = wait_for(lambda: self.tcp.saved_for("full@lmtp.test"), timeout=30)
        self.assertTrue(saved, "full@lmtp.test was not retried" + self.diagnostics())
        self.assertEqual(self.tcp.seen.get("full@lmtp.test"), 2)
        retry = [t for t in self.tcp.transactions if "full@lmtp.test" in t[1]][-1]
        self.assertEqual(retry[1], ["full@lmtp.test"], "the retry carries only the pending one")
        self.assertEqual(len(self.tcp.saved_for("okay@lmtp.test")), 1, "delivered exactly once")
        self.assertEqual(self.tcp.seen.get("gone@lmtp.test"), 1, "a 550 is not retried")
        self.assertEqual(len(self.server.wait_delivered("alice", 2, timeout=2)), 1)

    def test_mailbox_server_down_keeps_the_mail_queued(self):
        self.submit("alice@example.test", ["dora@down.test"], "lmtp down")
        events = self.server.wait_trace(lambda e: any(x["status"] == "deferred" for x in e),
                                        "--recipient", "dora@down.test")
        deferred = [e for e in events if e["status"] == "deferred"]
        self.assertTrue(deferred, events)
        self.assertIn("4.4.1", deferred[0]["detail"])
        self.assertFalse(any(e["status"] in ("delivered", "bounced") for e in events), events)


class LmtpConfigCheckTest(unittest.TestCase):
    def check(self, text):
        folder = tempfile.mkdtemp(prefix="bulwark-lmtp-config-")
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, "bulwark.toml")
        with open(path, "w") as handle:
            handle.write(text)
        return subprocess.run([BINARY, "config", "check", path], capture_output=True, text=True)

    def test_missing_host_and_bad_port_are_refused_with_line_and_fix(self):
        result = self.check('[[local_domain]]\nname = "lmtp.test"\ndelivery = "lmtp"\n\n'
                            '[[local_domain]]\nname = "smtp.test"\ndelivery = "smtp"\n'
                            'host = "127.0.0.1:99999"\n')
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(':3:12: local_domain[1]: delivery = "lmtp" needs a host; add host = ',
                      result.stderr)
        self.assertIn(":8:8: local_domain[2].host: ", result.stderr)
        self.assertIn("invalid port; use a port from 1 to 65535", result.stderr)

    def test_a_good_mailbox_server_is_accepted(self):
        result = self.check('[[local_domain]]\nname = "lmtp.test"\ndelivery = "lmtp"\n'
                            'host = "unix:/var/run/dovecot/lmtp"\n')
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("OK", result.stdout)


if __name__ == "__main__":
    unittest.main()
