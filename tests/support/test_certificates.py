"""Test certificate authorities made with the openssl command line: a CA, and server
certificates it signs for any list of DNS names (subjectAltName), in a temporary folder.
Used by tests that need verified TLS (MTA-STS policy hosts, MX hosts)."""

import os
import shutil
import subprocess
import tempfile


class CertificateAuthority:
    """One CA (RSA 2048, valid two days) whose certificate and key live in `folder`."""

    def __init__(self, folder, name, common_name):
        self.folder = folder
        self.name = name
        self.certificate = os.path.join(folder, name + ".pem")
        self.key = os.path.join(folder, name + ".key")
        self._openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
                      "-out", self.certificate, "-days", "2", "-subj", "/CN=" + common_name,
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    @staticmethod
    def _openssl(*arguments):
        subprocess.run(["openssl", *arguments], check=True, capture_output=True, timeout=60)

    def issue(self, file_name, names):
        """A server certificate for DNS `names` (the first is also the CN); returns (certificate
        path, key path)."""
        base = os.path.join(self.folder, file_name)
        key, request, certificate, extensions = (base + ".key", base + ".csr", base + ".pem",
                                                 base + ".ext")
        with open(extensions, "w") as handle:
            handle.write("subjectAltName = " + ", ".join("DNS:" + name for name in names) + "\n"
                         "basicConstraints = CA:FALSE\n"
                         "keyUsage = critical, digitalSignature, keyEncipherment\n"
                         "extendedKeyUsage = serverAuth\n")
        self._openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", request,
                      "-subj", "/CN=" + names[0])
        self._openssl("x509", "-req", "-in", request, "-CA", self.certificate, "-CAkey", self.key,
                      "-CAcreateserial", "-out", certificate, "-days", "2", "-extfile", extensions)
        return certificate, key


class CertificateFolder:
    """A temporary folder for authorities and their certificates; cleanup() removes it."""

    def __init__(self, prefix="bulwark-certificates-"):
        self.folder = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.folder, 0o755)

    def authority(self, name, common_name):
        return CertificateAuthority(self.folder, name, common_name)

    def cleanup(self):
        shutil.rmtree(self.folder, ignore_errors=True)
