"""Crash durability (DESIGN.md "Durability"): 20 clients send 2,000 messages while the server is
SIGKILLed and restarted on the same data directory several times. Every message that got a 250 to
its DATA must end up in the Maildir; duplicates are allowed (delivery is at least once) but reported."""

import os
import re
import shutil
import smtplib
import socket
import sys
import tempfile
import threading
import time
import unittest
import uuid
import warnings

from bulwark_harness import BulwarkServer

CLIENTS = 20
MESSAGES = 2000
KILL_POINTS = (0.15, 0.40, 0.65, 0.90)   # fractions of the acknowledged total at which to kill
RUN_DEADLINE_SECONDS = 600
QUEUE_DRAIN_SECONDS = 60
RECIPIENT = "crash@example.test"
TOKEN_PATTERN = re.compile(rb"crash-\d+-\d+-[0-9a-f]{12}")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CrashTest(unittest.TestCase):
    def setUp(self):
        # Killing the server leaves its stdout pipe to the garbage collector: not our concern here.
        warnings.simplefilter("ignore", ResourceWarning)
        self.data_dir = tempfile.mkdtemp(prefix="bulwark-crash-")
        self.port = free_port()
        connector = (f'name = "default"\nlisten = "127.0.0.1:{self.port}"\ntls = "none"\nauth = false\n'
                     "[receive_connector.limits]\nmax_connections_per_client = 200")
        self.server = BulwarkServer(connectors=[connector], data_dir=self.data_dir)
        self.server_lock = threading.Lock()
        self.ledger = []                 # tokens acknowledged with 250 after DATA
        self.ledger_lock = threading.Lock()
        self.rejected = []               # (token, code, text) for permanent refusals
        self.kills = 0
        self.stop_clients = threading.Event()
        self.errors = []

    def tearDown(self):
        with self.server_lock:
            self.server.stop()
        if self.errors or os.environ.get("BULWARK_KEEP_LOG"):
            print("\n".join(self.server.log_lines[-80:]), file=sys.stderr)
        if os.environ.get("BULWARK_KEEP_DATA"):
            print(f"data kept in {self.data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # ---- clients ----
    def client(self, number, count):
        pending = [f"crash-{number}-{sequence}-{uuid.uuid4().hex[:12]}" for sequence in range(count)]
        connection = None
        deadline = time.time() + RUN_DEADLINE_SECONDS
        while pending and time.time() < deadline:
            token = pending[0]
            try:
                if connection is None:
                    connection = smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.crash.test",
                                              timeout=30)
                message = (f"From: <client{number}@crash.test>\r\nTo: <{RECIPIENT}>\r\n"
                           f"Subject: {token}\r\nMessage-ID: <{token}@crash.test>\r\n"
                           f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nBody of {token}.\r\n")
                connection.sendmail(f"client{number}@crash.test", [RECIPIENT], message)
                # sendmail returns only after a 250 to the end of DATA.
                with self.ledger_lock:
                    self.ledger.append(token)
                pending.pop(0)
            except smtplib.SMTPResponseException as error:
                if 500 <= error.smtp_code < 600:
                    self.rejected.append((token, error.smtp_code, error.smtp_error))
                    pending.pop(0)
                connection = self._drop(connection)
                time.sleep(0.05)
            except smtplib.SMTPRecipientsRefused as error:
                codes = [code for code, _ in error.recipients.values()]
                if all(500 <= code < 600 for code in codes):
                    self.rejected.append((token, codes, "recipient refused"))
                    pending.pop(0)
                connection = self._drop(connection)
                time.sleep(0.05)
            except (OSError, smtplib.SMTPException):
                # Refused, reset, closed mid-reply, timed out: the server is (re)starting.
                connection = self._drop(connection)
                time.sleep(0.1)
        self._drop(connection)
        if pending:
            self.errors.append(f"client {number}: {len(pending)} message(s) never acknowledged")

    @staticmethod
    def _drop(connection):
        if connection is not None:
            try:
                connection.close()
            except OSError:
                pass
        return None

    # ---- the killer ----
    def kill_and_restart(self):
        with self.server_lock:
            self.server.kill()
            self.kills += 1
            for attempt in range(50):
                try:
                    self.server.start(timeout=60)
                    return
                except RuntimeError as error:
                    last = error
                    time.sleep(0.2)
            raise RuntimeError(f"server did not restart after kill {self.kills}: {last}")

    def killer(self):
        try:
            for point in KILL_POINTS:
                target = int(MESSAGES * point)
                while not self.stop_clients.is_set():
                    with self.ledger_lock:
                        if len(self.ledger) >= target:
                            break
                    time.sleep(0.02)
                if self.stop_clients.is_set():
                    return
                self.kill_and_restart()
                print(f"crash test: kill {self.kills} at {len(self.ledger)} acknowledged", flush=True)
        except Exception as error:   # reported by the main thread
            self.errors.append(f"killer: {error}")

    # ---- the test ----
    def test_acknowledged_messages_survive_sigkill(self):
        self.server.start()
        started = time.time()
        per_client = [MESSAGES // CLIENTS + (1 if index < MESSAGES % CLIENTS else 0) for index in range(CLIENTS)]
        clients = [threading.Thread(target=self.client, args=(index, count), daemon=True)
                   for index, count in enumerate(per_client)]
        killer = threading.Thread(target=self.killer, daemon=True)
        for thread in clients:
            thread.start()
        killer.start()
        for thread in clients:
            thread.join(RUN_DEADLINE_SECONDS + 60)
        self.stop_clients.set()
        killer.join(120)
        sending_seconds = time.time() - started

        # One last crash after every client is done: the queue must come back from disk alone.
        self.kill_and_restart()
        deadline = time.time() + QUEUE_DRAIN_SECONDS
        while time.time() < deadline and self.server.queue_files("active"):
            time.sleep(0.2)
        still_queued = self.server.queue_files("active")

        found = {}
        maildir = self.server.maildir("crash")
        for sub in ("new", "cur"):
            folder = os.path.join(maildir, sub)
            if not os.path.isdir(folder):
                continue
            for name in os.listdir(folder):
                with open(os.path.join(folder, name), "rb") as handle:
                    content = handle.read()
                match = TOKEN_PATTERN.search(content)
                if match:
                    token = match.group(0).decode()
                    found[token] = found.get(token, 0) + 1
        acknowledged = set(self.ledger)
        delivered = sum(1 for token in acknowledged if token in found)
        duplicates = sum(count - 1 for count in found.values() if count > 1)
        missing = sorted(acknowledged - set(found))
        corrupt = self.server.queue_files("corrupt")

        print(f"crash test: {len(acknowledged)} acknowledged, {delivered} delivered, {self.kills} kills, "
              f"{duplicates} duplicates", flush=True)
        print(f"crash test: {sending_seconds:.1f} s sending, {len(found)} distinct in the Maildir, "
              f"{len(still_queued)} still queued, {len(corrupt)} corrupt, {len(self.rejected)} refused",
              flush=True)

        if corrupt:
            print(f"crash test: warning: recovery moved {corrupt[:10]} to corrupt/", flush=True)
        self.assertEqual(self.errors, [])
        self.assertEqual(self.rejected, [], "the server refused messages permanently")
        self.assertGreaterEqual(self.kills, 3)
        self.assertEqual(len(acknowledged), MESSAGES, "every message should eventually be acknowledged")
        self.assertEqual(missing, [], f"{len(missing)} acknowledged message(s) missing from the Maildir "
                                      f"(queued: {still_queued[:10]})")


if __name__ == "__main__":
    unittest.main(verbosity=2)
