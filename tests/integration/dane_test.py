"""DANE for outbound SMTP (RFC 7672) through `bulwark serve`, offline: DNSSEC-signed zones made
at test time with ldns-keygen/ldns-signzone, served by node A's resolver from zone files with
their DS records as trust anchor; node B (a second `bulwark serve` on loopback, with a
certificate from a test CA) receives. Each recipient domain is one case: a matching DANE-EE or
DANE-TA record delivers with verification=dane; a mismatch, a DANE-TA name mismatch and a
tampered (bogus) TLSA record defer; an unsigned zone's TLSA is ignored; unusable records only
(PKIX-EE) still require TLS."""

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from bulwark_harness import BulwarkServer, SmtpConnection

SIGNED = ["good", "wrong", "bogus", "ta", "tabadname", "unusable"]
UNSIGNED = ["plain"]
# Names the receiving certificate carries; mx.tabadname.test is left out on purpose.
CERTIFICATE_NAMES = ["mx.good.test", "mx.wrong.test", "mx.bogus.test", "mx.ta.test",
                     "mx.unusable.test", "mx.plain.test"]


def run(arguments, directory, **options):
    return subprocess.run(arguments, cwd=directory, check=True, capture_output=True, text=True,
                          **options).stdout


def der_sha256(arguments, pem, directory):
    der = subprocess.run(arguments, cwd=directory, input=pem, check=True,
                         capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


class DaneTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="bulwark-dane-")
        cls.make_certificates()
        domains = SIGNED + UNSIGNED
        cls.node_b = BulwarkServer(
            connectors=['name = "default"\nlisten = "127.0.0.1:0"\ntls = "starttls"'],
            local_domains=[f"{name}.test" for name in domains],
            extra=f'[tls]\ncertificate = "{cls.work}/chain.pem"\n'
                  f'private_key = "{cls.work}/leaf.key"\n').start()
        port = cls.node_b.port()
        zone_files, anchors = [], []
        for name in domains:
            zone_file, anchor = cls.make_zone(name, port, signed=name in SIGNED)
            zone_files.append(zone_file)
            if anchor:
                anchors.append(anchor)
        anchor_file = os.path.join(cls.work, "anchors.ds")
        with open(anchor_file, "w") as handle:
            handle.write("".join(anchors))
        files = ", ".join(f'"{path}"' for path in zone_files)
        cls.node_a = BulwarkServer(
            connectors=['name = "default"\nlisten = "127.0.0.1:0"\ntls = "starttls"\n'
                        'relay_networks = ["127.0.0.1/32"]'],
            extra=f"""[delivery]
port = {port}
connect_timeout_seconds = 5
dns_forwarders = ["127.0.0.1@9"]
dns_trust_anchor = "{anchor_file}"
dns_zone_files = [{files}]
""").start()

    @classmethod
    def tearDownClass(cls):
        cls.node_a.cleanup()
        cls.node_b.cleanup()
        shutil.rmtree(cls.work, ignore_errors=True)

    @classmethod
    def make_certificates(cls):
        work = cls.work
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
             "-subj", "/CN=Bulwark DANE test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"], work)
        run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=mx.good.test"], work)
        with open(os.path.join(work, "leaf.ext"), "w") as handle:
            handle.write("subjectAltName=" + ",".join(f"DNS:{name}" for name in CERTIFICATE_NAMES)
                         + "\nbasicConstraints=CA:FALSE\n")
        run(["openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "leaf.pem", "-days", "30", "-extfile", "leaf.ext"], work)
        with open(os.path.join(work, "leaf.pem"), "rb") as leaf, \
                open(os.path.join(work, "ca.pem"), "rb") as ca:
            leaf_pem, ca_pem = leaf.read(), ca.read()
        with open(os.path.join(work, "chain.pem"), "wb") as handle:
            handle.write(leaf_pem + ca_pem)
        public_key = subprocess.run(["openssl", "x509", "-noout", "-pubkey"], input=leaf_pem,
                                    check=True, capture_output=True).stdout
        # DANE-EE 3 1 1: SHA-256 of the leaf's SubjectPublicKeyInfo; DANE-TA 2 0 1: of the CA.
        cls.leaf_spki = der_sha256(["openssl", "pkey", "-pubin", "-outform", "DER"], public_key,
                                   work)
        cls.ca_certificate = der_sha256(["openssl", "x509", "-outform", "DER"], ca_pem, work)

    @classmethod
    def make_zone(cls, name, port, signed):
        zone = f"{name}.test"
        tlsa = {
            "good": f"3 1 1 {cls.leaf_spki}",
            "wrong": "3 1 1 " + hashlib.sha256(b"not the key").hexdigest(),
            "bogus": f"3 1 1 {cls.leaf_spki}",
            "ta": f"2 0 1 {cls.ca_certificate}",
            "tabadname": f"2 0 1 {cls.ca_certificate}",
            "unusable": f"1 1 1 {cls.leaf_spki}",  # PKIX-EE: not for SMTP (RFC 7672 3.1.3)
            "plain": "3 1 1 " + hashlib.sha256(b"ignored, insecure").hexdigest(),
        }[name]
        text = f"""$ORIGIN {zone}.
$TTL 300
@ IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 300
@ IN NS ns.{zone}.
ns IN A 127.0.0.1
@ IN MX 10 mx.{zone}.
mx IN A 127.0.0.1
_{port}._tcp.mx IN TLSA {tlsa}
"""
        path = os.path.join(cls.work, f"{zone}.zone")
        with open(path, "w") as handle:
            handle.write(text)
        if not signed:
            return path, None
        key = run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", zone], cls.work).strip()
        run(["ldns-signzone", path, key], cls.work)
        signed_path = path + ".signed"
        if name == "bogus":
            # Changed after signing: the RRSIG no longer fits, so validation must fail.
            with open(signed_path) as handle:
                content = handle.read()
            tampered = content.replace(cls.leaf_spki, hashlib.sha256(b"forged").hexdigest())
            assert tampered != content
            with open(signed_path, "w") as handle:
                handle.write(tampered)
        with open(os.path.join(cls.work, key + ".ds")) as handle:
            return signed_path, handle.read()

    def send(self, domain, subject, require_tls=False):
        connection = SmtpConnection(self.node_a.port())
        self.addCleanup(connection.close)
        connection.reply()
        connection.command("EHLO client.test")
        if require_tls:
            connection.starttls()
            connection.command("EHLO client.test")
        parameter = " REQUIRETLS" if require_tls else ""
        self.assertEqual(connection.command(f"MAIL FROM:<sender@example.test>{parameter}")[0], 250)
        self.assertEqual(connection.command(f"RCPT TO:<someone@{domain}>")[0], 250)
        self.assertEqual(connection.command("DATA")[0], 354)
        connection.send(f"Subject: {subject}\r\n\r\nbody\r\n.\r\n")
        code, lines = connection.reply()
        self.assertEqual(code, 250, lines)
        return lines[0].split()[-1]

    def outcome(self, queue_id):
        """Waits for delivered or deferred; returns (status, the attempt events, every event)."""
        events = self.node_a.wait_trace(
            lambda e: any(x["status"] in ("delivered", "deferred") for x in e),
            "--queue-id", queue_id, timeout=30)
        final = [x["status"] for x in events if x["status"] in ("delivered", "deferred")]
        attempts = [x["detail"] for x in events if x["status"] == "attempt"]
        return (final[0] if final else None), attempts, events

    def received(self, domain, subject):
        messages = self.node_b.wait_delivered("someone", 1, domain=domain, timeout=5)
        return any(f"Subject: {subject}".encode() in message for message in messages)

    def test_dane_ee_match_delivers_with_dane_verification(self):
        status, attempts, events = self.outcome(self.send("good.test", "dane-ee"))
        self.assertEqual(status, "delivered", events)
        self.assertIn("required=dane", attempts[-1])
        self.assertIn("verification=dane", attempts[-1])
        self.assertIn('tlsa="dane-ee 3 1 1"', attempts[-1])
        self.assertTrue(self.received("good.test", "dane-ee"))
        shown = subprocess.run([os.environ.get("BULWARK_BINARY", "bulwark"), "trace", "--config",
                                self.node_a.config_path, "--queue-id", events[0]["queue_id"]],
                               capture_output=True, text=True, check=True).stdout
        self.assertIn("verification=dane", shown)

    def test_dane_ta_match_delivers(self):
        status, attempts, events = self.outcome(self.send("ta.test", "dane-ta"))
        self.assertEqual(status, "delivered", events)
        self.assertIn("verification=dane", attempts[-1])
        self.assertIn('tlsa="dane-ta 2 0 1 depth 1"', attempts[-1])

    def test_dane_ta_checks_the_name(self):
        queue_id = self.send("tabadname.test", "dane-ta wrong name")
        status, attempts, events = self.outcome(queue_id)
        self.assertEqual(status, "deferred", events)
        self.assertIn("required=dane", attempts[-1])
        self.assertIn("4.7.5", attempts[-1])
        self.assertIn(queue_id, self.node_a.queue_files("deferred"))
        self.assertFalse(self.received("tabadname.test", "dane-ta wrong name"))

    def test_mismatching_tlsa_defers(self):
        queue_id = self.send("wrong.test", "mismatch")
        status, attempts, events = self.outcome(queue_id)
        self.assertEqual(status, "deferred", events)
        self.assertIn("no TLSA record matches the certificate", attempts[-1])
        self.assertIn("4.7.5", attempts[-1])
        self.assertIn(queue_id, self.node_a.queue_files("deferred"))
        self.assertFalse(self.received("wrong.test", "mismatch"))

    def test_bogus_tlsa_defers_without_connecting(self):
        queue_id = self.send("bogus.test", "bogus")
        status, attempts, events = self.outcome(queue_id)
        self.assertEqual(status, "deferred", events)
        self.assertEqual(attempts, [], "no connection may be made to a host with bogus TLSA")
        deferred = next(x for x in events if x["status"] == "deferred")
        self.assertIn("TLSA", deferred["detail"])
        self.assertIn("validation failure", deferred["detail"])
        self.assertIn(queue_id, self.node_a.queue_files("deferred"))
        self.assertFalse(self.received("bogus.test", "bogus"))

    def test_unsigned_zone_ignores_its_tlsa_and_delivers_at_the_default_level(self):
        status, attempts, events = self.outcome(self.send("plain.test", "insecure"))
        self.assertEqual(status, "delivered", events)
        self.assertIn("required=opportunistic", attempts[-1])
        self.assertIn("verification=none", attempts[-1])
        self.assertNotIn("tlsa=", attempts[-1])

    def test_unusable_records_only_still_require_tls(self):
        status, attempts, events = self.outcome(self.send("unusable.test", "pkix-ee only"))
        self.assertEqual(status, "delivered", events)
        self.assertIn("required=required", attempts[-1])
        self.assertIn("tls=TLS", attempts[-1])
        self.assertIn("verification=none", attempts[-1])

    def test_requiretls_is_satisfied_by_dane(self):
        # No ca_file trusts the test CA, so PKIX would fail: only DANE can verify this hop.
        status, attempts, events = self.outcome(self.send("good.test", "requiretls", True))
        self.assertEqual(status, "delivered", events)
        self.assertIn("verification=dane", attempts[-1])

    def test_config_check_accepts_the_dane_options_and_rejects_bad_ones(self):
        binary = os.environ.get("BULWARK_BINARY", "bulwark")
        good = subprocess.run([binary, "config", "check", self.node_a.config_path],
                              capture_output=True, text=True)
        self.assertEqual(good.returncode, 0, good.stdout + good.stderr)
        bad_path = os.path.join(self.work, "bad.toml")
        with open(bad_path, "w") as handle:
            handle.write('[delivery]\ndane = "on"\ndns_zone_files = [""]\n')
        bad = subprocess.run([binary, "config", "check", bad_path], capture_output=True, text=True)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("bad.toml:2:8: delivery.dane: must be a boolean", bad.stdout + bad.stderr)
        self.assertIn("bad.toml:3:19: delivery.dns_zone_files[1]: must not be empty",
                      bad.stdout + bad.stderr)


if __name__ == "__main__":
    unittest.main()
