"""Interop for outbound delivery: the real `bulwark serve` delivers by MX to a private Postfix (the
receiving MTA, Maildir delivery) at each TLS level, against peers that offer TLS, strip STARTTLS or
show a certificate for the wrong name, and with REQUIRETLS; a required level that cannot be met must
defer (and finally bounce), never downgrade. Checked on what reached Postfix's Maildir and in the trace."""

import email
import email.parser
import email.policy
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

from bulwark_harness import BulwarkServer, SmtpConnection
from postfix_instance import PostfixInstance, postfix_installed

# remote.test's MX is mx.remote.test at 127.0.0.1; [delivery] port points at the Postfix under test.
DNS_RECORDS = '["remote.test. 300 IN MX 10 mx.remote.test.", "mx.remote.test. 300 IN A 127.0.0.1"]'

# The connector the tests submit on: STARTTLS offered (so REQUIRETLS can be), loopback may relay.
RELAY_CONNECTOR = ('name = "default"\nlisten = "127.0.0.1:0"\ntls = "starttls"\nauth = true\n'
                   'relay_networks = ["127.0.0.1"]')

CERTIFICATES = None  # the Certificates of this run, made in setUpModule


class Certificates:
    """A test CA that signs certificates for mx.remote.test and other.test, and a second CA that
    signs nothing we use (a trust store that does not include the test CA)."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="bulwark-outbound-certificates-")
        os.chmod(self.folder, 0o755)
        self.authority, self.authority_key = self.make_authority("trusted-ca", "Bulwark Outbound Test CA")
        self.unrelated_authority, _ = self.make_authority("unrelated-ca", "Unrelated Test CA")
        self.mx_certificate, self.mx_key = self.make_server("mx.remote.test")
        self.other_certificate, self.other_key = self.make_server("other.test")

    def path(self, name):
        return os.path.join(self.folder, name)

    def openssl(self, *arguments):
        subprocess.run(["openssl", *arguments], check=True, capture_output=True, timeout=60)

    def make_authority(self, name, common_name):
        certificate, key = self.path(name + ".pem"), self.path(name + ".key")
        self.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
                     certificate, "-days", "2", "-subj", "/CN=" + common_name,
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return certificate, key

    def make_server(self, host):
        key, request, certificate = (self.path(host + ".key"), self.path(host + ".csr"),
                                     self.path(host + ".pem"))
        extensions = self.path(host + ".ext")
        with open(extensions, "w") as handle:
            handle.write(f"subjectAltName = DNS:{host}\nbasicConstraints = CA:FALSE\n"
                         "keyUsage = critical, digitalSignature, keyEncipherment\n"
                         "extendedKeyUsage = serverAuth\n")
        self.openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", request,
                     "-subj", "/CN=" + host)
        self.openssl("x509", "-req", "-in", request, "-CA", self.authority, "-CAkey",
                     self.authority_key, "-CAcreateserial", "-out", certificate, "-days", "2",
                     "-extfile", extensions)
        return certificate, key

    def cleanup(self):
        shutil.rmtree(self.folder, ignore_errors=True)


def setUpModule():
    global CERTIFICATES
    CERTIFICATES = Certificates()


def tearDownModule():
    if CERTIFICATES:
        CERTIFICATES.cleanup()


def receiving_postfix(certificate=None, key=None):
    """A Postfix that accepts mail for remote.test into one Maildir (every local part), offering
    STARTTLS with this certificate, or not offering it at all when certificate is None."""
    postfix = PostfixInstance({"myhostname": "mx.remote.test"})
    postfix.maildir = os.path.join(postfix.deliver_to_maildirs("remote.test"), "remote")
    postfix.settings.update({
        "smtpd_tls_received_header": "yes",
        "smtpd_tls_loglevel": "1",
    })
    if certificate:
        postfix.settings.update({"smtpd_tls_security_level": "may",
                                 "smtpd_tls_cert_file": certificate,
                                 "smtpd_tls_key_file": key})
    else:
        postfix.settings["smtpd_tls_security_level"] = "none"
    try:
        return postfix.start()
    except Exception:
        postfix.cleanup()
        raise


def fingerprint(certificate):
    """The SHA-256 fingerprint as openssl prints it (AB:CD:...), which the trace evidence uses."""
    output = subprocess.run(["openssl", "x509", "-in", certificate, "-noout", "-fingerprint",
                             "-sha256"], check=True, capture_output=True, text=True).stdout
    return output.strip().split("=", 1)[1]


def arrived(postfix):
    """Every message in the receiving Postfix's Maildir (new/), as bytes."""
    folder = os.path.join(postfix.maildir, "new")
    if not os.path.isdir(folder):
        return []
    messages = []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as handle:
            messages.append(handle.read())
    return messages


class OutboundTestCase(unittest.TestCase):
    """One Postfix per class (set by setUpClass of the subclass), one Bulwark per test."""

    postfix = None
    certificate = None  # attribute names on CERTIFICATES, or None for a peer without STARTTLS
    key = None

    @classmethod
    def setUpClass(cls):
        certificate = getattr(CERTIFICATES, cls.certificate) if cls.certificate else None
        key = getattr(CERTIFICATES, cls.key) if cls.key else None
        cls.postfix = receiving_postfix(certificate, key)

    @classmethod
    def tearDownClass(cls):
        if cls.postfix:
            cls.postfix.cleanup()

    def setUp(self):
        self.bulwark = None

    def tearDown(self):
        if self.bulwark:
            self.bulwark.cleanup()

    def start_bulwark(self, level, ca_file=None, top_level=""):
        delivery = [top_level, "[delivery]", f'tls = "{level}"', f"port = {self.postfix.port}",
                    f"dns_records = {DNS_RECORDS}", "connect_timeout_seconds = 5",
                    "command_timeout_seconds = 20"]
        if ca_file:
            delivery.append(f'ca_file = "{ca_file}"')
        self.bulwark = BulwarkServer(connectors=[RELAY_CONNECTOR], extra="\n".join(delivery) + "\n")
        return self.bulwark.start()

    @staticmethod
    def message(token, sender="alice@example.test", recipient="bob@remote.test"):
        return (f"From: <{sender}>\r\nTo: <{recipient}>\r\nSubject: outbound {token}\r\n"
                f"Message-ID: <{token}@example.test>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
                f"\r\nOutbound delivery test, token {token}.\r\n")

    def submit(self, sender="alice@example.test", recipient="bob@remote.test"):
        """Relays one message through Bulwark from loopback (in relay_networks); returns its token."""
        token = "t" + uuid.uuid4().hex[:16]
        with smtplib.SMTP("127.0.0.1", self.bulwark.port(), timeout=30) as client:
            client.ehlo("client.example.test")
            refused = client.sendmail(sender, [recipient], self.message(token, sender, recipient))
            self.assertEqual(refused, {})
        return token

    def diagnostics(self):
        return ("\nPostfix log:\n" + self.postfix.log()[-3000:] + "\nBulwark log:\n" +
                "\n".join(self.bulwark.log_lines[-30:]))

    def wait_arrival(self, token, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for message in arrived(self.postfix):
                if token.encode() in message:
                    return message
            time.sleep(0.1)
        self.fail(f"message {token} did not reach Postfix's Maildir" + self.diagnostics())

    def assert_not_arrived(self, token, grace=2):
        time.sleep(grace)  # what Postfix accepted would be in its Maildir well within this
        for message in arrived(self.postfix):
            self.assertNotIn(token.encode(), message, "the message reached Postfix")

    def attempts(self, token, count=1, timeout=30):
        """The 'attempt' trace events of the message, oldest first, once there are `count`."""
        wanted = lambda events: len([e for e in events if e["status"] == "attempt"]) >= count
        events = self.bulwark.wait_trace(wanted, "--message-id", f"{token}@example.test",
                                         timeout=timeout)
        found = [event for event in reversed(events) if event["status"] == "attempt"]
        self.assertGreaterEqual(len(found), count, f"trace: {events}" + self.diagnostics())
        return found

    def wait_deferred(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline and not self.bulwark.queue_files("deferred"):
            time.sleep(0.1)
        return self.bulwark.queue_files("deferred")

    def received_by_postfix(self, message):
        """Postfix's own Received header (the newest one), unfolded."""
        parsed = email.parser.BytesParser().parsebytes(message, headersonly=True)
        received = [" ".join(value.split()) for value in parsed.get_all("Received")]
        self.assertIn("by mx.remote.test (Postfix)", received[0], received)
        self.assertIn("from mx.example.test", received[0], received)
        return received[0]

    def assert_tls_received(self, message):
        received = self.received_by_postfix(message)
        self.assertRegex(received, r"\(using TLSv1\.[23] with cipher \S+", received)
        self.assertIn("with ESMTPS id", received)

    def assert_clear_received(self, message):
        received = self.received_by_postfix(message)
        self.assertNotIn("using TLS", received)
        self.assertIn("with ESMTP id", received)

    def assert_delivered_attempt(self, attempt, level, verification):
        detail = attempt["detail"]
        self.assertIn(f"host=mx.remote.test [127.0.0.1]:{self.postfix.port}", detail)
        self.assertIn(f"required={level}", detail)
        self.assertIn('reply="250', detail)
        self.assertEqual(attempt["recipients"], ["bob@remote.test"])
        if verification is None:
            self.assertIn("tls=none", detail)
            self.assertEqual(attempt["tls_version"], "")
        else:
            self.assertRegex(detail, r"tls=TLSv1\.[23] cipher=\S+ verification=" + verification + " ")
            self.assertRegex(attempt["tls_version"], r"^TLSv1\.[23]$")


class PostfixReceivesTest(OutboundTestCase):
    """Postfix offers STARTTLS with a certificate for mx.remote.test from the test CA."""

    certificate, key = "mx_certificate", "mx_key"

    def test_none_delivers_in_clear(self):
        self.start_bulwark("none")
        token = self.submit()
        message = self.wait_arrival(token)
        self.assert_clear_received(message)
        self.assertIn(f"Outbound delivery test, token {token}.".encode(), message)
        self.assert_delivered_attempt(self.attempts(token)[0], "none", None)

    def test_opportunistic_delivers_over_tls_without_verification(self):
        self.start_bulwark("opportunistic")
        token = self.submit()
        message = self.wait_arrival(token)
        self.assert_tls_received(message)
        self.assert_delivered_attempt(self.attempts(token)[0], "opportunistic", "none")

    def test_required_delivers_over_tls(self):
        self.start_bulwark("required")
        token = self.submit()
        message = self.wait_arrival(token)
        self.assert_tls_received(message)
        self.assert_delivered_attempt(self.attempts(token)[0], "required", "none")

    def test_verify_with_the_test_ca_delivers_verified(self):
        self.start_bulwark("verify", ca_file=CERTIFICATES.authority)
        token = self.submit()
        message = self.wait_arrival(token)
        self.assert_tls_received(message)
        attempt = self.attempts(token)[0]
        self.assert_delivered_attempt(attempt, "verify", "pkix")
        self.assertIn('certificate="CN=mx.remote.test"', attempt["detail"])
        self.assertIn("sha256=" + fingerprint(CERTIFICATES.mx_certificate), attempt["detail"])
        self.assertEqual(self.bulwark.queue_files("deferred"), [])

    def test_verify_with_a_store_without_the_ca_defers(self):
        self.start_bulwark("verify", ca_file=CERTIFICATES.unrelated_authority)
        token = self.submit()
        attempt = self.attempts(token)[0]
        self.assertIn("required=verify", attempt["detail"])
        self.assertRegex(attempt["detail"], r'reply="451 4\.7\.5 [^"]*certificate verification failed')
        self.assertEqual(len(self.wait_deferred()), 1, self.diagnostics())
        self.assert_not_arrived(token)
        deferred = self.bulwark.wait_trace(
            lambda events: any(e["status"] == "deferred" for e in events),
            "--message-id", f"{token}@example.test")
        self.assertTrue(any(e["status"] == "deferred" and "4.7.5" in e["detail"] for e in deferred),
                        deferred)


class StrippedStartTlsTest(OutboundTestCase):
    """Postfix with smtpd_tls_security_level = none: STARTTLS is never offered, as when a
    man in the middle strips it from the EHLO reply."""

    certificate = None

    def test_peer_does_not_offer_starttls(self):
        connection = SmtpConnection(self.postfix.port)
        try:
            self.assertEqual(connection.reply()[0], 220)
            code, lines = connection.command("EHLO check.example.test")
        finally:
            connection.close()
        self.assertEqual(code, 250)
        self.assertNotIn("STARTTLS", " ".join(lines))

    def test_opportunistic_delivers_in_clear(self):
        self.start_bulwark("opportunistic")
        token = self.submit()
        message = self.wait_arrival(token)
        self.assert_clear_received(message)
        self.assert_delivered_attempt(self.attempts(token)[0], "opportunistic", None)

    def test_required_defers(self):
        self.start_bulwark("required")
        token = self.submit()
        attempt = self.attempts(token)[0]
        self.assertIn("required=required tls=none", attempt["detail"])
        self.assertIn('reply="451 4.7.5 TLS required but not offered by host mx.remote.test',
                      attempt["detail"])
        self.assertEqual(len(self.wait_deferred()), 1, self.diagnostics())
        self.assert_not_arrived(token)

    def test_required_expires_into_a_bounce_to_the_local_sender(self):
        # Retries after 1, 2, 4, ... s (the backoff is capped at the minimum of 60 s); the lifetime
        # is the minimum, 60 s, so the bounce comes about a minute after submission.
        self.start_bulwark("required", top_level="queue_retry_seconds = 1\n"
                           "queue_max_backoff_seconds = 60\nqueue_lifetime_seconds = 60")
        started = time.time()
        token = self.submit()
        self.assertEqual(len(self.wait_deferred()), 1, self.diagnostics())
        bounces = self.bulwark.wait_delivered("alice", 1, timeout=100)
        self.assertEqual(len(bounces), 1, "no bounce reached alice" + self.diagnostics())
        elapsed = time.time() - started
        self.assertGreaterEqual(elapsed, 55, "bounced before the lifetime was over")
        self.assert_not_arrived(token, grace=0)
        self.assertEqual(self.bulwark.queue_files("deferred"), [])

        bounce = email.message_from_bytes(bounces[0], policy=email.policy.default)
        self.assertEqual(bounce["Subject"], "Undelivered Mail Returned to Sender")
        self.assertEqual(bounce["To"].addresses[0].addr_spec, "alice@example.test")
        self.assertEqual(bounce.get_content_type(), "multipart/report")
        self.assertEqual(bounce.get_param("report-type"), "delivery-status")
        text = bounces[0].decode("utf-8", "replace")
        self.assertIn("bob@remote.test", text)
        self.assertIn("TLS required but not offered by host mx.remote.test", text)
        self.assertIn(token, text)  # the returned original
        status = next(part for part in bounce.walk()
                      if part.get_content_type() == "message/delivery-status")
        status_text = str(status)
        self.assertRegex(status_text, r"Action: failed")
        self.assertRegex(status_text, r"Final-Recipient: rfc822; ?bob@remote.test")
        self.assertIn("Status: 5.4.7", status_text)  # RFC 3463: delivery time expired
        self.assertRegex(text, r"Diagnostic-Code: smtp; [^\r\n]*451 4\.7\.5 TLS required but "
                                      r"not offered by host mx\.remote\.test")

        attempts = self.attempts(token, count=3)
        for attempt in attempts:
            self.assertIn("451 4.7.5 TLS required but not offered", attempt["detail"])
        events = self.bulwark.trace("--message-id", f"{token}@example.test")
        self.assertTrue(any(e["status"] == "bounced" for e in events), events)


class WrongCertificateTest(OutboundTestCase):
    """Postfix presents a certificate from the test CA for other.test, not for mx.remote.test."""

    certificate, key = "other_certificate", "other_key"

    def test_verify_defers_on_a_name_mismatch(self):
        self.start_bulwark("verify", ca_file=CERTIFICATES.authority)
        token = self.submit()
        attempt = self.attempts(token)[0]
        self.assertIn("required=verify", attempt["detail"])
        self.assertRegex(attempt["detail"],
                         r'reply="451 4\.7\.5 [^"]*certificate verification failed: '
                         r'[^"]*hostname mismatch')
        self.assertEqual(len(self.wait_deferred()), 1, self.diagnostics())
        self.assert_not_arrived(token)

    def test_opportunistic_delivers_anyway(self):
        self.start_bulwark("opportunistic", ca_file=CERTIFICATES.authority)
        token = self.submit()
        message = self.wait_arrival(token)
        self.assert_tls_received(message)
        attempt = self.attempts(token)[0]
        self.assert_delivered_attempt(attempt, "opportunistic", "none")
        self.assertIn('certificate="CN=other.test"', attempt["detail"])


class RequireTlsTest(OutboundTestCase):
    """A message sent with REQUIRETLS (RFC 8689) to a Postfix that does not announce REQUIRETLS:
    the certificate verifies (test CA, right name), so only the missing REQUIRETLS stops it."""

    certificate, key = "mx_certificate", "mx_key"

    def submit_requiretls(self, require_tls):
        token = "t" + uuid.uuid4().hex[:16]
        connection = SmtpConnection(self.bulwark.port(), timeout=30)
        try:
            self.assertEqual(connection.reply()[0], 220)
            connection.command("EHLO client.example.test")
            connection.starttls()
            code, lines = connection.command("EHLO client.example.test")
            self.assertEqual(code, 250)
            self.assertIn("REQUIRETLS", [line[4:].split()[0] for line in lines[1:]])
            option = " REQUIRETLS" if require_tls else ""
            self.assertEqual(connection.command(f"MAIL FROM:<alice@example.test>{option}")[0], 250)
            self.assertEqual(connection.command("RCPT TO:<bob@remote.test>")[0], 250)
            self.assertEqual(connection.command("DATA")[0], 354)
            code, lines = connection.command(self.message(token) + ".")
            self.assertEqual(code, 250, lines)
            connection.command("QUIT")
        finally:
            connection.close()
        return token

    def test_requiretls_is_not_relayed_to_a_peer_without_requiretls(self):
        self.start_bulwark("opportunistic", ca_file=CERTIFICATES.authority)
        # Control: the same route takes a message without REQUIRETLS.
        control = self.submit_requiretls(False)
        self.wait_arrival(control)

        token = self.submit_requiretls(True)
        attempt = self.attempts(token)[0]
        detail = attempt["detail"]
        # REQUIRETLS raised the opportunistic route to verify; TLS came up and verified...
        self.assertIn("required=verify", detail)
        self.assertRegex(detail, r"tls=TLSv1\.[23] cipher=\S+ verification=pkix")
        # ...and the missing extension alone stopped the transaction.
        self.assertIn('reply="451 4.7.10 REQUIRETLS not supported by host mx.remote.test', detail)
        self.assertEqual(len(self.wait_deferred()), 1, self.diagnostics())
        self.assert_not_arrived(token)
        self.assertNotRegex(self.postfix.log(), re.escape(f"{token}@example.test"))


if __name__ == "__main__":
    if not postfix_installed():
        if os.environ.get("CI") == "true":
            print("outbound_test: postfix is not installed (or not running as root), and CI=true: "
                  "failing", file=sys.stderr)
            sys.exit(1)
        print("outbound_test: skipped: /usr/sbin/postfix is not installed or we are not root")
        sys.exit(0)
    unittest.main(verbosity=2)
