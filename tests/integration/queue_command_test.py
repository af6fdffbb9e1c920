"""`bulwark queue` (docs/operations.md "The queue"): list, show, hold, release, retry and delete on
a real spool, offline after the server stopped, and `queue list` while the server runs. A
message for a remote domain is kept deferred by pointing its MX at a closed loopback port."""

import json
import subprocess
import time
import unittest

from bulwark_harness import BINARY, BulwarkServer, SmtpConnection, simple_message

# remote.test's MX is 127.0.0.1, and [delivery] port 1 is closed: each attempt is deferred.
DELIVERY = """[delivery]
port = 1
dns_records = ["remote.test. 300 IN MX 10 mx.remote.test.", "mx.remote.test. 300 IN A 127.0.0.1"]
"""
RELAY_CONNECTOR = ('name = "default"\nlisten = "127.0.0.1:0"\ntls = "starttls"\n'
                   'relay_networks = ["127.0.0.1/32"]')


def queue_command(server, *arguments):
    return subprocess.run([BINARY, "queue", *arguments, "--config", server.config_path],
                          capture_output=True, text=True, timeout=60)


def send(server, recipients, subject):
    connection = SmtpConnection(server.port())
    try:
        assert connection.reply()[0] == 220
        assert connection.command("EHLO client.test")[0] == 250
        assert connection.command("MAIL FROM:<sender@example.test>")[0] == 250
        for recipient in recipients:
            code, lines = connection.command(f"RCPT TO:<{recipient}>")
            assert code == 250, lines
        assert connection.command("DATA")[0] == 354
        connection.send(simple_message(subject=subject, sender="sender@example.test",
                                       recipient=recipients[0]) + ".\r\n")
        code, lines = connection.reply()
        assert code == 250, lines
        connection.command("QUIT")
    finally:
        connection.close()


def wait_queued(server, count, timeout=20):
    """The queue listing once it holds `count` messages that are no longer active."""
    deadline = time.time() + timeout
    while True:
        result = queue_command(server, "list", "--json")
        messages = json.loads(result.stdout) if result.returncode == 0 else []
        if len(messages) >= count and all(m["state"] != "active" for m in messages):
            return messages
        if time.time() > deadline:
            return messages
        time.sleep(0.1)


class QueueCommandOfflineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BulwarkServer(connectors=[RELAY_CONNECTOR], extra=DELIVERY).start()
        send(cls.server, ["far@remote.test", "near@remote.test"], "queued one")
        send(cls.server, ["other@remote.test"], "queued two")
        cls.messages = wait_queued(cls.server, 2)
        cls.server.stop()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def message_id(self, subject_index=0):
        self.assertEqual(len(self.messages), 2, self.messages)
        return self.messages[subject_index]["queue_id"]

    def listing(self):
        result = queue_command(self.server, "list", "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        return {message["queue_id"]: message for message in json.loads(result.stdout)}

    def test_1_list_shows_the_deferred_messages(self):
        listing = self.listing()
        first = listing[self.message_id(0)]
        self.assertEqual(first["state"], "deferred")
        self.assertEqual(first["sender"], "sender@example.test")
        self.assertEqual(first["recipients_total"], 2)
        self.assertEqual(first["recipients_pending"], 2)
        self.assertGreaterEqual(first["attempts"], 1)
        self.assertIsNotNone(first["next_attempt"])
        self.assertIn("4.", first["last_reason"])
        self.assertGreater(first["size"], 0)
        self.assertTrue(first["arrived"].endswith("Z"))
        # Oldest first.
        self.assertEqual(list(listing), [self.message_id(0), self.message_id(1)])

        table = queue_command(self.server, "list")
        self.assertEqual(table.returncode, 0, table.stderr)
        lines = table.stdout.splitlines()
        self.assertTrue(lines[0].startswith("QUEUE ID"))
        self.assertIn(self.message_id(0), lines[1])
        self.assertIn("deferred", lines[1])
        self.assertIn("<sender@example.test>", lines[1])
        self.assertIn("2/2", lines[1])

    def test_2_show_prints_envelope_and_headers(self):
        queue_id = self.message_id(0)
        result = queue_command(self.server, "show", queue_id)
        self.assertEqual(result.returncode, 0, result.stderr)
        text = result.stdout
        for expected in [f"queue id:        {queue_id}", "state:           deferred",
                         "sender:          <sender@example.test>", "requiretls:      no",
                         "connector:       default", "<far@remote.test> pending",
                         "<near@remote.test> pending", "Subject: queued one", "Received: from"]:
            self.assertIn(expected, text)
        self.assertNotIn("Hello.", text)  # the body only with --body
        body = queue_command(self.server, "show", queue_id, "--body")
        self.assertEqual(body.returncode, 0, body.stderr)
        self.assertIn("Subject: queued one", body.stdout)
        self.assertIn("Hello.", body.stdout)

    def test_3_hold_release_retry_delete(self):
        queue_id = self.message_id(1)
        result = queue_command(self.server, "hold", queue_id)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"{queue_id}: held", result.stdout)
        self.assertEqual(self.listing()[queue_id]["state"], "hold")
        self.assertEqual(self.server.queue_files("hold"), [queue_id])
        self.assertIn("held", queue_command(self.server, "list").stdout)

        # A retry does not release what an operator held.
        result = queue_command(self.server, "retry", queue_id)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("nothing done", result.stdout)
        self.assertEqual(self.listing()[queue_id]["state"], "hold")

        result = queue_command(self.server, "release", queue_id)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("released", result.stdout)
        self.assertEqual(self.listing()[queue_id]["state"], "active")

        # retry: deferred → active.
        other = self.message_id(0)
        result = queue_command(self.server, "retry", "--all")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"{other}: queued for retry now", result.stdout)
        self.assertEqual(self.listing()[other]["state"], "active")

        result = queue_command(self.server, "delete", queue_id)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"{queue_id}: deleted", result.stdout)
        self.assertNotIn(queue_id, self.listing())
        self.assertIn(other, self.listing())

    def test_4_unknown_id_exits_1_and_names_it(self):
        for arguments in (["show", "NOSUCHID"], ["hold", "NOSUCHID"], ["release", "NOSUCHID"],
                          ["retry", "NOSUCHID"], ["delete", "NOSUCHID"]):
            result = queue_command(self.server, *arguments)
            self.assertEqual(result.returncode, 1, arguments)
            self.assertIn("NOSUCHID", result.stderr)
        # The ids that exist are still acted on.
        queue_id = self.message_id(0)
        result = queue_command(self.server, "hold", "NOSUCHID", queue_id)
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"{queue_id}: held", result.stdout)
        self.assertIn("../etc", queue_command(self.server, "show", "../etc").stderr)

    def test_5_usage_errors_exit_2(self):
        self.assertEqual(queue_command(self.server, "hold").returncode, 2)
        self.assertEqual(queue_command(self.server, "retry").returncode, 2)
        self.assertEqual(queue_command(self.server, "retry", "--all", "X").returncode, 2)
        self.assertEqual(queue_command(self.server, "show").returncode, 2)
        self.assertEqual(queue_command(self.server, "frobnicate").returncode, 2)

    def test_6_a_wrong_data_dir_is_not_created(self):
        result = subprocess.run([BINARY, "queue", "list", "--data-dir", "/nonexistent/bulwark"],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 1)
        self.assertIn("no queue at", result.stderr)


class QueueCommandWhileRunningTest(unittest.TestCase):
    def test_list_while_the_server_runs(self):
        with BulwarkServer(connectors=[RELAY_CONNECTOR], extra=DELIVERY) as server:
            send(server, ["far@remote.test"], "while running")
            for _ in range(20):
                result = queue_command(server, "list", "--json")
                self.assertEqual(result.returncode, 0, result.stderr)
                listing = json.loads(result.stdout)
                self.assertIsInstance(listing, list)
            self.assertEqual(len(wait_queued(server, 1)), 1)
            # A hold while the server runs is respected by the server.
            queue_id = wait_queued(server, 1)[0]["queue_id"]
            self.assertEqual(queue_command(server, "hold", queue_id).returncode, 0)
            self.assertEqual(server.queue_files("hold"), [queue_id])


if __name__ == "__main__":
    unittest.main()
