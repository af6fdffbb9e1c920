"""Starts a real `bulwark serve` on loopback with a temporary data directory, for integration,
interop and crash tests. The binary comes from $BULWARK_BINARY (ctest sets it). Every listener
uses port 0; the server prints "ready smtp NAME port N" lines that tell us the real ports."""

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

BINARY = os.environ.get("BULWARK_BINARY", os.path.join(os.path.dirname(__file__), "../../build/bulwark"))
TESTDATA = os.environ.get("BULWARK_TESTDATA", os.path.join(os.path.dirname(__file__), "../../../shared/testdata"))


# Outbound delivery that always defers: remote.test's MX is 127.0.0.1, on a port where nothing
# listens (connection refused, 4.4.1). For tests that need mail to wait in the queue.
UNREACHABLE_REMOTE = """[delivery]
port = 1
dns_records = ["remote.test. 300 IN MX 10 mx.remote.test.", "mx.remote.test. 300 IN A 127.0.0.1"]
"""


def hash_password(password):
    result = subprocess.run([BINARY, "user", "hash"], input=password + "\n", capture_output=True,
                            text=True, check=True)
    return result.stdout.strip()


class BulwarkServer:
    """One server process. `connectors` is a list of TOML tables (strings without the header)
    for [[receive_connector]]; listen addresses should use port 0. `local_domains` holds names,
    or whole [[local_domain]] tables (strings without the header)."""

    def __init__(self, connectors=None, extra="", users=None, data_dir=None, local_domains=None,
                 authentication="verify = false"):
        self.owned_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="bulwark-test-")
        self.connectors = connectors or ['name = "default"\nlisten = "127.0.0.1:0"\ntls = "starttls"\nauth = true']
        self.extra = extra
        self.users = users or {}
        self.local_domains = local_domains or ["example.test"]
        # The [authentication] table. Off unless a test asks: SPF, DKIM and DMARC look up the
        # sender's domain, and a test must never query a resolver outside loopback.
        self.authentication = authentication
        self.process = None
        self.ports = {}
        self.log_lines = []
        self.config_path = os.path.join(self.data_dir, "bulwark.toml")

    def write_config(self):
        parts = [f'data_dir = "{self.data_dir}"', 'hostname = "mx.example.test"', self.extra, ""]
        for connector in self.connectors:
            parts += ["[[receive_connector]]", connector, ""]
        for domain in self.local_domains:
            # A bare name is a Maildir domain; text with "=" is the whole table (other deliveries).
            parts += ["[[local_domain]]", domain if "=" in domain else f'name = "{domain}"', ""]
        for name, password in self.users.items():
            parts += ["[[user]]", f'name = "{name}"', f'password_hash = "{hash_password(password)}"', ""]
        if self.authentication is not None:
            parts += ["[authentication]", self.authentication, ""]
        with open(self.config_path, "w") as handle:
            handle.write("\n".join(parts))

    def start(self, timeout=30):
        if not os.path.exists(self.config_path):
            self.write_config()
        self.ports = {}
        self.process = subprocess.Popen([BINARY, "serve", "--config", self.config_path],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stderr_thread = threading.Thread(target=self._collect_stderr, daemon=True)
        stderr_thread.start()
        deadline = time.time() + timeout
        while len(self.ports) < len(self.connectors):
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("bulwark serve exited before it was ready:\n" + "\n".join(self.log_lines))
            words = line.split()
            if len(words) == 5 and words[0] == "ready" and words[1] == "smtp":
                self.ports[words[2]] = int(words[4])
            if time.time() > deadline:
                raise RuntimeError("bulwark serve was not ready in time")
        return self

    def _collect_stderr(self):
        for line in self.process.stderr:
            self.log_lines.append(line.rstrip("\n"))

    def port(self, name="default"):
        return self.ports[name]

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode if self.process else None

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def cleanup(self):
        self.stop()
        if self.owned_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    # ---- what the server left behind ----
    def maildir(self, local_part, domain="example.test"):
        return os.path.join(self.data_dir, "mail", domain, local_part.lower())

    def delivered(self, local_part, domain="example.test"):
        folder = os.path.join(self.maildir(local_part, domain), "new")
        if not os.path.isdir(folder):
            return []
        result = []
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), "rb") as handle:
                result.append(handle.read())
        return result

    def wait_delivered(self, local_part, count, domain="example.test", timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            messages = self.delivered(local_part, domain)
            if len(messages) >= count:
                return messages
            time.sleep(0.05)
        return self.delivered(local_part, domain)

    def queue_files(self, state="active"):
        folder = os.path.join(self.data_dir, "queue", state)
        return sorted(os.listdir(folder)) if os.path.isdir(folder) else []

    def trace(self, *arguments):
        result = subprocess.run([BINARY, "trace", "--config", self.config_path, "--json", *arguments],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"bulwark trace failed ({result.returncode}): {result.stderr}")
        return json.loads(result.stdout) if result.stdout.strip().startswith("[") else []

    def wait_trace(self, predicate, *arguments, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            events = self.trace(*arguments)
            if predicate(events):
                return events
            time.sleep(0.1)
        return self.trace(*arguments)


class SmtpConnection:
    """A raw SMTP client that shows exactly what the server answers (smtplib hides pipelining
    and would refuse to send the malformed input these tests need)."""

    def __init__(self, port, host="127.0.0.1", timeout=10, implicit_tls=False):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if implicit_tls:
            self.sock = self._wrap(self.sock)
        self.buffer = b""

    @staticmethod
    def _wrap(sock):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context.wrap_socket(sock)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self):
        """Reads one complete (possibly multi-line) reply; returns (code, [lines])."""
        lines = []
        while True:
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed; partial reply: %r" % (lines,))
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            text = line.decode("utf-8", "replace")
            lines.append(text)
            if len(text) < 4 or text[3] != "-":
                return int(text[:3]), lines

    def command(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def starttls(self):
        code, lines = self.command("STARTTLS")
        if code != 220:
            raise AssertionError(f"STARTTLS refused: {code} {lines}")
        self.sock = self._wrap(self.sock)
        self.buffer = b""

    def closed(self, timeout=5):
        """True when the server has closed the connection (EOF) within `timeout`."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except (socket.timeout, TimeoutError):
            return False
        except (ConnectionResetError, ssl.SSLError, OSError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def simple_message(subject="test", body="Hello.\r\n", sender="sender@remote.test",
                   recipient="alice@example.test", extra_headers=""):
    return (f"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}.{time.time_ns()}@remote.test>\r\n"
            f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n{extra_headers}\r\n{body}")
