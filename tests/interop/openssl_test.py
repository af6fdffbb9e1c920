"""Interop with `openssl s_client -starttls smtp` and implicit TLS: a stock TLS client completes the
handshake with Bulwark and is shown the certificate Bulwark generated in DATA/tls/self-signed.crt
(same SHA-256 fingerprint), so what clients see is what the data directory holds."""

import os
import re
import subprocess
import time
import unittest

from bulwark_harness import BulwarkServer


def fingerprint_of_pem(pem_text):
    result = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=pem_text,
                            capture_output=True, text=True, check=True)
    match = re.search(r"Fingerprint=([0-9A-F:]+)", result.stdout)
    if not match:
        raise AssertionError(f"no fingerprint in {result.stdout!r}")
    return match.group(1)


def first_certificate(text):
    match = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.DOTALL)
    if not match:
        raise AssertionError("s_client printed no certificate:\n" + text[-3000:])
    return match.group(0) + "\n"


class OpensslClientTest(unittest.TestCase):
    # A server per test, so that one crash shows up in one test only.
    def setUp(self):
        connectors = [
            'name = "default"\nlisten = "127.0.0.1:0"\ntls = "starttls"\nauth = true',
            'name = "implicit"\nlisten = "127.0.0.1:0"\ntls = "implicit"\nauth = true',
        ]
        self.server = BulwarkServer(connectors=connectors).start()

    def tearDown(self):
        time.sleep(0.1)
        exit_status = self.server.process.poll()
        self.server.cleanup()
        self.assertIsNone(exit_status, "bulwark serve died during the test:\n" +
                          "\n".join(self.server.log_lines[-40:]))

    def s_client(self, *options):
        # QUIT on stdin makes s_client send it after the handshake and end with the server's 221.
        result = subprocess.run(["openssl", "s_client", *options, "-servername", "mx.example.test",
                                 "-showcerts", "-ign_eof"],
                                input="EHLO client.remote.test\r\nQUIT\r\n", capture_output=True,
                                text=True, timeout=60)
        return result.stdout + result.stderr

    def stored_fingerprint(self):
        path = os.path.join(self.server.data_dir, "tls", "self-signed.crt")
        self.assertTrue(os.path.exists(path), f"{path} was not generated")
        with open(path) as handle:
            return fingerprint_of_pem(first_certificate(handle.read()))

    def check_session(self, output):
        self.assertIn("Verify return code", output)
        self.assertRegex(output, r"Protocol\s*:\s*TLSv1\.[23]|New, TLSv1\.[23]")
        self.assertEqual(fingerprint_of_pem(first_certificate(output)), self.stored_fingerprint())
        self.assertRegex(output, r"subject=.*mx\.example\.test")
        # The SMTP conversation continued inside TLS: EHLO answered, QUIT answered.
        self.assertRegex(output, r"250[ -]")
        self.assertIn("221", output)

    def test_starttls_shows_generated_certificate(self):
        output = self.s_client("-starttls", "smtp", "-connect", f"127.0.0.1:{self.server.port()}")
        self.check_session(output)

    def test_implicit_tls_shows_generated_certificate(self):
        output = self.s_client("-connect", f"127.0.0.1:{self.server.port('implicit')}")
        self.check_session(output)


if __name__ == "__main__":
    unittest.main(verbosity=2)
