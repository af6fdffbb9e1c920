"""MTA-STS (RFC 8461) through `bulwark serve`: policies are served over HTTPS by a Python server on
127.0.0.1 with a certificate for every mta-sts.<domain> from a test CA, the MX hosts are an SMTP
sink with STARTTLS (a certificate from the same CA, or from an unrelated CA for one MX name), and
[delivery] dns_records give the TXT, MX and A records. One domain per case:

  good.test       enforce, its MX listed, good certificate   -> delivered, verification=mta-sts
  rogue.test      enforce, its MX not listed                 -> deferred, stays queued
  untrusted.test  enforce, MX certificate from another CA    -> deferred, never sent
  trial.test      testing, its MX not listed                 -> delivered, the trace notes it
  missing.test    TXT record, policy answers 404             -> delivered as without a policy
  moved.test      the policy URL redirects (301)             -> not followed: no policy
  html.test       served as text/html                        -> not a policy
  big.test        larger than mta_sts_max_policy_size        -> not a policy
  slow.test       answers after mta_sts_timeout_seconds      -> not a policy, after the timeout

The last five would each refuse the domain's MX if applied, so a delivery shows they were not.
Then the HTTPS server stops and Bulwark restarts on the same data directory with new TXT ids: the
cached policies are still enforced (rogue.test defers, good.test goes out at mta-sts)."""

import http.server
import os
import smtplib
import ssl
import threading
import time
import unittest
import uuid

from bulwark_harness import BulwarkServer
from smtp_sink import SmtpSink
from test_certificates import CertificateFolder

RELAY_CONNECTOR = ('name = "default"\nlisten = "127.0.0.1:0"\ntls = "starttls"\n'
                   'relay_networks = ["127.0.0.1"]')
POLICY_TIMEOUT_SECONDS = 2
POLICY_SIZE_LIMIT = 1024


def policy(mode, *mx):
    lines = ["version: STSv1", f"mode: {mode}"] + [f"mx: {name}" for name in mx]
    lines.append("max_age: 86400")
    return "\r\n".join(lines) + "\r\n"


# domain -> (its MX host, TXT id, what the policy host does: (kind, policy text))
DOMAINS = {
    "good.test": ("mx.good.test", "good1", ("policy", policy("enforce", "mx.good.test"))),
    "rogue.test": ("mx.rogue-relay.test", "rogue1", ("policy", policy("enforce", "*.rogue.test"))),
    "untrusted.test": ("mx.untrusted.test", "untrusted1",
                       ("policy", policy("enforce", "mx.untrusted.test"))),
    "trial.test": ("mx.trial-relay.test", "trial1", ("policy", policy("testing", "mx.trial.test"))),
    "missing.test": ("mx.missing.test", "missing1", ("status", 404)),
    "moved.test": ("mx.moved-relay.test", "moved1",
                   ("redirect", policy("enforce", "mx.moved.test"))),
    "html.test": ("mx.html-relay.test", "html1", ("html", policy("enforce", "mx.html.test"))),
    "big.test": ("mx.big-relay.test", "big1",
                 ("policy", policy("enforce", "mx.big.test") +
                  "padding: " + "x" * POLICY_SIZE_LIMIT + "\r\n")),
    "slow.test": ("mx.slow-relay.test", "slow1", ("slow", policy("enforce", "mx.slow.test"))),
}


def dns_records(ids):
    records = []
    for domain, (mx, _, _) in DOMAINS.items():
        records += [f"{domain}. 300 IN MX 10 {mx}.", f"{mx}. 300 IN A 127.0.0.1",
                    f"mta-sts.{domain}. 300 IN A 127.0.0.1",
                    f'_mta-sts.{domain}. 300 IN TXT \\"v=STSv1; id={ids[domain]};\\"']
    return "[" + ", ".join(f'"{record}"' for record in records) + "]"


class PolicyHandler(http.server.BaseHTTPRequestHandler):
    """Serves https://mta-sts.<domain>/.well-known/mta-sts.txt as DOMAINS says, by Host header."""

    requests = []  # (host, path) of every request, for the assertions

    def do_GET(self):
        host = self.headers.get("Host", "").split(":")[0]
        PolicyHandler.requests.append((host, self.path))
        domain = host[len("mta-sts."):] if host.startswith("mta-sts.") else ""
        if domain not in DOMAINS or self.path != "/.well-known/mta-sts.txt":
            return self.answer(404, "text/plain", "not here\n")
        kind, value = DOMAINS[domain][2]
        if kind == "status":
            return self.answer(value, "text/plain", "no policy\n")
        if kind == "redirect":
            self.send_response(301)
            self.send_header("Location", f"https://mta-sts.good.test/.well-known/mta-sts.txt")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if kind == "html":
            return self.answer(200, "text/html", value)
        if kind == "slow":
            time.sleep(POLICY_TIMEOUT_SECONDS + 2)
        return self.answer(200, "text/plain; charset=utf-8", value)

    def answer(self, status, content_type, text):
        body = text.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (the slow case)

    def log_message(self, *arguments):
        pass


class PolicyServer:
    def __init__(self, certificate, key):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PolicyHandler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.running = True

    def stop(self):
        if self.running:
            self.running = False
            self.server.shutdown()
            self.server.server_close()


class MtaStsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certificates = CertificateFolder("bulwark-mta-sts-")
        authority = cls.certificates.authority("sts-ca", "Bulwark MTA-STS Test CA")
        unrelated = cls.certificates.authority("unrelated-ca", "Unrelated Test CA")
        web_certificate = authority.issue("policy-host",
                                          [f"mta-sts.{domain}" for domain in DOMAINS])
        mx_names = [mx for domain, (mx, _, _) in DOMAINS.items() if domain != "untrusted.test"]
        mx_certificate = authority.issue("mx-hosts", mx_names)
        untrusted_certificate = unrelated.issue("untrusted-mx", ["mx.untrusted.test"])

        cls.policy_server = PolicyServer(*web_certificate)
        # The sink picks its certificate by the name the client asks for (SNI).
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*mx_certificate)
        untrusted_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        untrusted_context.load_cert_chain(*untrusted_certificate)

        def choose(connection, server_name, _):
            if server_name == "mx.untrusted.test":
                connection.context = untrusted_context
        context.sni_callback = choose
        cls.sink = SmtpSink(tls_context=context)
        cls.authority = authority
        cls.bulwark = None

    @classmethod
    def tearDownClass(cls):
        if cls.bulwark:
            cls.bulwark.cleanup()
        cls.policy_server.stop()
        cls.sink.stop()
        cls.certificates.cleanup()

    @classmethod
    def start_bulwark(cls, ids, data_dir=None):
        extra = f"""[delivery]
port = {cls.sink.port}
ca_file = "{cls.authority.certificate}"
connect_timeout_seconds = 5
command_timeout_seconds = 10
mta_sts_port = {cls.policy_server.port}
mta_sts_timeout_seconds = {POLICY_TIMEOUT_SECONDS}
mta_sts_max_policy_size = {POLICY_SIZE_LIMIT}
dns_records = {dns_records(ids)}
"""
        server = BulwarkServer(connectors=[RELAY_CONNECTOR], extra=extra, data_dir=data_dir)
        server.write_config()
        return server.start()

    def submit(self, domain):
        """Relays one message to bob@<domain>; returns its token (in the subject and Message-ID)."""
        token = "sts" + uuid.uuid4().hex[:12]
        message = (f"From: <alice@example.test>\r\nTo: <bob@{domain}>\r\nSubject: {token}\r\n"
                   f"Message-ID: <{token}@example.test>\r\n"
                   f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
                   f"\r\nMTA-STS test {token}.\r\n")
        with smtplib.SMTP("127.0.0.1", self.bulwark.port(), timeout=30) as client:
            client.ehlo("client.example.test")
            self.assertEqual(client.sendmail("alice@example.test", [f"bob@{domain}"], message), {})
        return token

    def arrived(self, token):
        """(encrypted, data) of the message with `token` at the sink, or None."""
        for index, (_, _, data) in enumerate(list(self.sink.messages)):
            if token.encode() in data:
                return self.sink.encrypted[index], data
        return None

    def wait_arrival(self, token, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.arrived(token)
            if found:
                return found
            time.sleep(0.1)
        self.fail(f"{token} did not reach the sink\n" + "\n".join(self.bulwark.log_lines[-30:]))

    def events(self, token, status, count=1, timeout=30):
        wanted = lambda events: len([e for e in events if e["status"] == status]) >= count
        events = self.bulwark.wait_trace(wanted, "--message-id", f"{token}@example.test",
                                         timeout=timeout)
        found = [event for event in events if event["status"] == status]
        self.assertGreaterEqual(len(found), count, f"trace: {events}\n" +
                                "\n".join(self.bulwark.log_lines[-30:]))
        return found

    def assert_never_arrives(self, token, grace=2):
        time.sleep(grace)
        self.assertIsNone(self.arrived(token), "the message reached the sink")

    def check_delivered_without_policy(self, domain):
        """A message to `domain` goes out as without MTA-STS: opportunistic, no mta-sts= note."""
        token = self.submit(domain)
        encrypted, _ = self.wait_arrival(token)
        self.assertTrue(encrypted)  # opportunistic STARTTLS, the sink offers it
        attempt = self.events(token, "attempt")[0]
        self.assertIn("required=opportunistic", attempt["detail"])
        self.assertIn("verification=none", attempt["detail"])
        self.assertNotIn("mta-sts=", attempt["detail"])
        return attempt

    def test_mta_sts(self):
        # One server for the whole sequence: the cache built in phase 1 is what phase 2 relies on.
        ids = {domain: value[1] for domain, value in DOMAINS.items()}
        type(self).bulwark = self.start_bulwark(ids)
        data_dir = self.bulwark.data_dir

        with self.subTest("enforce, listed MX, trusted certificate: delivered at mta-sts"):
            token = self.submit("good.test")
            encrypted, _ = self.wait_arrival(token)
            self.assertTrue(encrypted)
            attempt = self.events(token, "attempt")[0]
            detail = attempt["detail"]
            self.assertIn(f"host=mx.good.test [127.0.0.1]:{self.sink.port} required=mta-sts",
                          detail)
            self.assertRegex(detail, r"tls=TLSv1\.[23] cipher=\S+ verification=mta-sts ")
            self.assertIn('reply="250', detail)
            self.assertIn("mta-sts=enforce id=good1", detail)
            self.assertNotIn("(cached)", detail)
            self.assertIn(("mta-sts.good.test", "/.well-known/mta-sts.txt"), PolicyHandler.requests)

        with self.subTest("enforce, MX not in the policy: deferred, stays queued"):
            token = self.submit("rogue.test")
            deferred = self.events(token, "deferred")[0]
            self.assertIn("451 4.7.5 MTA-STS policy of rogue.test (id rogue1, mode enforce) lists "
                          "none of its mail servers (mx.rogue-relay.test)", deferred["detail"])
            self.assertEqual([e for e in self.bulwark.trace("--message-id", f"{token}@example.test")
                              if e["status"] == "attempt"], [])
            self.assertIn(deferred["queue_id"], self.bulwark.queue_files("deferred"))
            self.assert_never_arrives(token)

        with self.subTest("enforce, MX certificate not trusted: deferred, never sent"):
            token = self.submit("untrusted.test")
            attempt = self.events(token, "attempt")[0]
            self.assertIn("required=mta-sts", attempt["detail"])
            self.assertIn("certificate verification failed", attempt["detail"])
            self.assertIn('reply="451 4.7.5', attempt["detail"])
            self.assertIn("mta-sts=enforce id=untrusted1", attempt["detail"])
            deferred = self.events(token, "deferred")[0]
            self.assertIn(deferred["queue_id"], self.bulwark.queue_files("deferred"))
            self.assert_never_arrives(token)

        with self.subTest("testing, MX not in the policy: delivered, the trace notes it"):
            token = self.submit("trial.test")
            self.wait_arrival(token)
            detail = self.events(token, "attempt")[0]["detail"]
            self.assertIn("required=opportunistic", detail)
            self.assertIn('reply="250', detail)
            self.assertIn('mta-sts=testing id=trial1 policy-failure="enforce would not try '
                          'mx.trial-relay.test: not in the policy\'s mx list"', detail)

        with self.subTest("TXT record but the policy answers 404: as without a policy"):
            self.check_delivered_without_policy("missing.test")
            self.assertIn(("mta-sts.missing.test", "/.well-known/mta-sts.txt"),
                          PolicyHandler.requests)

        with self.subTest("a redirect is not followed"):
            already = len(PolicyHandler.requests)
            self.check_delivered_without_policy("moved.test")
            # Its policy host was asked once, and the redirect's target never.
            self.assertEqual(PolicyHandler.requests[already:],
                             [("mta-sts.moved.test", "/.well-known/mta-sts.txt")])

        with self.subTest("media type other than text/plain: not a policy"):
            self.check_delivered_without_policy("html.test")
            self.assertTrue(any("html.test" in line and "not text/plain" in line
                                for line in self.bulwark.log_lines), self.bulwark.log_lines[-10:])

        with self.subTest("policy past mta_sts_max_policy_size: not a policy"):
            self.check_delivered_without_policy("big.test")
            self.assertTrue(any("big.test" in line and
                                f"larger than {POLICY_SIZE_LIMIT} bytes" in line
                                for line in self.bulwark.log_lines), self.bulwark.log_lines[-10:])

        with self.subTest("policy host slower than mta_sts_timeout_seconds: not a policy"):
            started = time.time()
            self.check_delivered_without_policy("slow.test")
            self.assertGreaterEqual(time.time() - started, POLICY_TIMEOUT_SECONDS - 0.5)
            self.assertTrue(any("slow.test" in line and "timed out" in line
                                for line in self.bulwark.log_lines), self.bulwark.log_lines[-10:])

        # Phase 2: the policy host is gone and every TXT id changed (a refresh is due and fails);
        # a restart on the same data directory still has the cached policies.
        self.bulwark.stop()
        self.policy_server.stop()
        new_ids = {domain: value + "x" for domain, value in ids.items()}
        type(self).bulwark = self.start_bulwark(new_ids, data_dir=data_dir)
        self.bulwark.owned_dir = True  # remove the directory at the end

        with self.subTest("cached enforce policy, policy host down: MX not listed still defers"):
            token = self.submit("rogue.test")
            deferred = self.events(token, "deferred")[0]
            self.assertIn("MTA-STS policy of rogue.test (id rogue1, mode enforce)",
                          deferred["detail"])
            self.assert_never_arrives(token)
            self.assertTrue(any("rogue.test (record id=rogue1x)" in line and
                                "keeping the cached policy id=rogue1" in line
                                for line in self.bulwark.log_lines), self.bulwark.log_lines[-10:])

        with self.subTest("cached enforce policy, policy host down: listed MX at mta-sts"):
            token = self.submit("good.test")
            self.wait_arrival(token)
            detail = self.events(token, "attempt")[0]["detail"]
            self.assertIn("required=mta-sts", detail)
            self.assertIn("verification=mta-sts", detail)
            self.assertIn("mta-sts=enforce id=good1 (cached)", detail)


if __name__ == "__main__":
    unittest.main()
