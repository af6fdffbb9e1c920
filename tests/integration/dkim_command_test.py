"""`bulwark dkim keygen` and `bulwark dkim list` (docs/dkim.md): key files and their modes, the
DNS record printed (checked against the private key with the openssl CLI), refusal to overwrite
an existing selector, and clear errors for a bad domain, selector or key size."""

import base64
import os
import re
import stat
import subprocess
import tempfile
import unittest

from bulwark_harness import BINARY


def dkim(*arguments):
    return subprocess.run([BINARY, "dkim", *arguments], capture_output=True, text=True,
                          timeout=120)


def published_record(output):
    """The TXT record of a zone-file line: its quoted strings joined, each at most 255 bytes."""
    line = next(line for line in output.splitlines() if "._domainkey." in line)
    strings = re.findall(r'"([^"]*)"', line)
    assert strings and all(len(part) <= 255 for part in strings), line
    return line.split()[0], "".join(strings)


def public_key_base64(key_file, key_type):
    der = subprocess.run(["openssl", "pkey", "-in", key_file, "-pubout", "-outform", "DER"],
                         capture_output=True, check=True).stdout
    # An Ed25519 record holds the raw 32-byte key (RFC 8463 4), the last bytes of the SPKI.
    return base64.b64encode(der[-32:] if key_type == "ed25519" else der).decode()


class DkimKeygenTest(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.data_dir = self.directory.name

    def tearDown(self):
        self.directory.cleanup()

    def keygen(self, *arguments):
        return dkim("keygen", *arguments, "--data-dir", self.data_dir)

    def test_both_key_types_files_modes_and_records(self):
        for selector, key_type, extra in (("rsa2027", "rsa", ["--bits", "3072"]),
                                          ("ed2027", "ed25519", ["--type", "ed25519"])):
            result = self.keygen("Example.COM", selector, *extra)
            self.assertEqual(result.returncode, 0, result.stderr)
            key_file = os.path.join(self.data_dir, "dkim", "example.com", selector + ".key")
            self.assertEqual(stat.S_IMODE(os.stat(key_file).st_mode), 0o600)
            name, record = published_record(result.stdout)
            self.assertEqual(name, selector + "._domainkey.example.com.")
            self.assertEqual(record, f"v=DKIM1; k={key_type}; p=" +
                             public_key_base64(key_file, key_type))
            if key_type == "rsa":
                text = subprocess.run(["openssl", "pkey", "-in", key_file, "-noout", "-text"],
                                      capture_output=True, text=True, check=True).stdout
                self.assertIn("3072 bit", text)
        domain_directory = os.path.join(self.data_dir, "dkim", "example.com")
        self.assertEqual(stat.S_IMODE(os.stat(domain_directory).st_mode), 0o700)

        listing = dkim("list", "--data-dir", self.data_dir)
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertRegex(listing.stdout, r"example\.com\ted2027\ted25519\t")
        self.assertRegex(listing.stdout, r"example\.com\trsa2027\trsa\t")
        self.assertIn("ed2027._domainkey.example.com. IN TXT", listing.stdout)

    def test_existing_selector_is_never_overwritten(self):
        self.assertEqual(self.keygen("example.com", "s1", "--type", "ed25519").returncode, 0)
        key_file = os.path.join(self.data_dir, "dkim", "example.com", "s1.key")
        with open(key_file, "rb") as original:
            before = original.read()
        result = self.keygen("example.com", "s1")
        self.assertEqual(result.returncode, 1)
        self.assertIn("already exists", result.stderr)
        with open(key_file, "rb") as after:
            self.assertEqual(after.read(), before)

    def test_bad_names_and_sizes_are_refused_with_a_clear_error(self):
        for domain, selector, words in (("exa mple.com", "s1", "is not a domain name"),
                                        ("example.com", "../s1", "is not a selector"),
                                        ("example.com.", "s1", "is not a domain name"),
                                        ("example.com", "s_1", "is not a selector")):
            result = self.keygen(domain, selector)
            self.assertEqual(result.returncode, 2, (domain, selector))
            self.assertIn(words, result.stderr)
        result = self.keygen("example.com", "s1", "--bits", "512")
        self.assertEqual(result.returncode, 2)
        self.assertIn("--bits", result.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.data_dir, "dkim", "example.com",
                                                     "s1.key")))

    def test_data_directory_from_the_configuration_file(self):
        config = os.path.join(self.data_dir, "bulwark.toml")
        keys = os.path.join(self.data_dir, "configured")
        with open(config, "w") as file:
            file.write(f'data_dir = "{keys}"\n')
        result = dkim("keygen", "example.org", "sel", "--type", "ed25519", "--config", config)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(os.path.isfile(os.path.join(keys, "dkim", "example.org", "sel.key")))

    def test_empty_list(self):
        result = dkim("list", "--data-dir", self.data_dir)
        self.assertEqual(result.returncode, 0)
        self.assertIn("no DKIM keys", result.stdout)


if __name__ == "__main__":
    unittest.main()
