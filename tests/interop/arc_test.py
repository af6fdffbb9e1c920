"""ARC (RFC 8617) interop with dkimpy, an independent implementation: what Bulwark seals, dkimpy's
arc_verify passes; what dkimpy's arc_sign seals, Bulwark validates; two-hop chains in both orders
pass on both sides; a body changed after sealing fails on both sides. Bulwark's side runs through
the test-only tests/support/arc_tool; both sides read DNS from the same in-memory records (dkimpy
through its dnsfunc argument), so nothing touches the network. Run with /usr/bin/python3
(python3-dkim, python3-authres). dkimpy 1.1.4 seals and validates ARC with rsa-sha256 only, so
these chains use RSA-2048 keys; Ed25519 ARC is covered by auth_arc_test and mail-auth 002."""

import os
import subprocess
import tempfile
import unittest

import dkim

ARC_TOOL = os.environ.get("ARC_TOOL", "arc_tool")
SIGNED = [b"from", b"to", b"subject", b"date", b"message-id"]

MESSAGE = (b"From: Alice <alice@origin.example>\r\n"
           b"To: list@lists.example\r\n"
           b"Subject: ARC interop\r\n"
           b"Date: Thu, 14 Jan 2021 15:00:01 -0800\r\n"
           b"Message-ID: <interop@origin.example>\r\n"
           b"\r\n"
           b"Hello from the interop test.\r\n")


def new_key(directory, name):
    path = os.path.join(directory, name + ".pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", path], check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    public = subprocess.run(["openssl", "base64", "-A"], input=der, check=True,
                            capture_output=True).stdout.decode()
    return path, "v=DKIM1; k=rsa; p=" + public


class ArcInteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.mkdtemp(prefix="arc-interop-")
        cls.bulwark_key, bulwark_record = new_key(cls.directory, "bulwark")
        cls.dkimpy_key, dkimpy_record = new_key(cls.directory, "dkimpy")
        cls.records = {"bw._domainkey.bulwark.example": bulwark_record,
                       "py._domainkey.dkimpy.example": dkimpy_record}
        cls.records_file = os.path.join(cls.directory, "records.txt")
        with open(cls.records_file, "w", encoding="ascii") as out:
            for name, value in cls.records.items():
                out.write(f"{name} {value}\n")

    # dkimpy asks for "<selector>._domainkey.<domain>." and wants the TXT bytes.
    def dns(self, name, timeout=5):
        del timeout
        return self.records.get(name.decode().rstrip("."), "").encode() or None

    def write(self, message):
        handle, path = tempfile.mkstemp(dir=self.directory, suffix=".eml")
        with os.fdopen(handle, "wb") as out:
            out.write(message)
        return path

    def bulwark_verify(self, message):
        output = subprocess.run([ARC_TOOL, "verify", self.write(message), self.records_file],
                                check=True, capture_output=True, text=True).stdout
        return output.split()[0].removeprefix("cv="), output

    def bulwark_seal(self, message):
        cv, _ = self.bulwark_verify(message)
        return subprocess.run([ARC_TOOL, "seal", self.write(message), self.records_file,
                               self.bulwark_key, "bulwark.example", "bw", "mx.bulwark.example",
                               f"arc={cv}; spf=pass smtp.mailfrom=origin.example"],
                              check=True, capture_output=True).stdout

    def dkimpy_verify(self, message):
        cv, _, reason = dkim.arc_verify(message, dnsfunc=self.dns)
        return cv.decode(), reason

    # dkimpy reads the chain status from our Authentication-Results (arc=...), as its docs say.
    def dkimpy_seal(self, message):
        cv, _ = self.dkimpy_verify(message)
        stamped = (f"Authentication-Results: mx.dkimpy.example; arc={cv}; spf=pass "
                   "smtp.mailfrom=origin.example\r\n").encode() + message
        with open(self.dkimpy_key, "rb") as key:
            fields = dkim.arc_sign(stamped, b"py", b"dkimpy.example", key.read(),
                                   b"mx.dkimpy.example", include_headers=SIGNED,
                                   timestamp=1700000000)
        self.assertEqual(len(fields), 3, "dkimpy added no ARC set")
        return b"".join(fields) + stamped

    def assertBothSay(self, message, expected):
        bulwark, bulwark_output = self.bulwark_verify(message)
        dkimpy, dkimpy_reason = self.dkimpy_verify(message)
        self.assertEqual(bulwark, expected, bulwark_output)
        self.assertEqual(dkimpy, expected, dkimpy_reason)

    def test_bulwark_seals_dkimpy_validates(self):
        sealed = self.bulwark_seal(MESSAGE)
        self.assertTrue(sealed.startswith(b"ARC-Seal: "))
        self.assertBothSay(sealed, "pass")

    def test_dkimpy_seals_bulwark_validates(self):
        self.assertBothSay(self.dkimpy_seal(MESSAGE), "pass")

    def test_dkimpy_then_bulwark(self):
        chain = self.bulwark_seal(self.dkimpy_seal(MESSAGE))
        self.assertIn(b"cv=pass; d=bulwark.example; i=2", chain)
        self.assertBothSay(chain, "pass")

    def test_bulwark_then_dkimpy(self):
        chain = self.dkimpy_seal(self.bulwark_seal(MESSAGE))
        self.assertBothSay(chain, "pass")
        _, output = self.bulwark_verify(chain)
        self.assertIn("instances=2", output)

    def test_body_changed_after_bulwark_seal_fails(self):
        sealed = self.bulwark_seal(MESSAGE).replace(b"Hello from", b"Goodbye from")
        self.assertBothSay(sealed, "fail")

    def test_body_changed_after_dkimpy_seal_fails(self):
        sealed = self.dkimpy_seal(MESSAGE).replace(b"Hello from", b"Goodbye from")
        self.assertBothSay(sealed, "fail")


if __name__ == "__main__":
    unittest.main(verbosity=2)
