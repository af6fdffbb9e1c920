"""The spool's promises seen from outside: 452 when free disk is below the floor; on start,
damaged queue files are moved to corrupt/ and reported, unacknowledged leftovers in incoming/ are
removed, and deferred messages survive a restart (docs/queue-format.md)."""

import os
import unittest

from bulwark_harness import UNREACHABLE_REMOTE, BulwarkServer, SmtpConnection


class DurabilityTest(unittest.TestCase):
    def test_disk_floor_answers_452(self):
        with BulwarkServer(extra="min_free_disk_mb = 900000000") as server:
            connection = SmtpConnection(server.port())
            self.addCleanup(connection.close)
            connection.reply()
            connection.command("EHLO client.test")
            code, lines = connection.command("MAIL FROM:<s@remote.test>")
            self.assertEqual((code, lines[0][4:9]), (452, "4.3.1"))

    def test_recovery_moves_damaged_and_removes_unacknowledged(self):
        server = BulwarkServer(connectors=[
            'name = "default"\nlisten = "127.0.0.1:0"\ntls = "none"\nrelay_networks = ["127.0.0.1"]'],
            extra=UNREACHABLE_REMOTE)
        self.addCleanup(server.cleanup)
        server.start()
        connection = SmtpConnection(server.port())
        connection.reply()
        connection.command("EHLO client.test")
        connection.command("MAIL FROM:<s@remote.test>")
        connection.command("RCPT TO:<far@remote.test>")
        connection.command("DATA")
        connection.send("Subject: waits\r\n\r\nx\r\n.\r\n")
        code, lines = connection.reply()
        self.assertEqual(code, 250)
        queue_id = lines[0].split()[-1]
        connection.close()
        server.wait_trace(lambda e: any(x["status"] == "deferred" for x in e), "--queue-id", queue_id)
        self.assertEqual(server.stop(), 0)

        queue = os.path.join(server.data_dir, "queue")
        with open(os.path.join(queue, "active", "DAMAGED0000000001"), "wb") as handle:
            handle.write(b"not a queue file at all")
        with open(os.path.join(queue, "incoming", "HALFWRITTEN00001"), "wb") as handle:
            handle.write(b"BWQ")
        server.start()
        self.assertIn("DAMAGED0000000001", server.queue_files("corrupt"))
        self.assertNotIn("DAMAGED0000000001", server.queue_files("active"))
        self.assertEqual(server.queue_files("incoming"), [])
        self.assertIn(queue_id, server.queue_files("deferred"))
        self.assertTrue(any("DAMAGED0000000001" in line for line in server.log_lines),
                        "\n".join(server.log_lines))


if __name__ == "__main__":
    unittest.main()
