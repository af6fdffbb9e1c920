"""dkimpy's DKIM speed for bench/dkim.sh: signatures and verifications per CPU second in one
/usr/bin/python3 process (one core), in a loop around dkim.sign and dkim.verify, the key record
answered from a dict (no DNS time). Each result is checked. Same output lines as dkim_bench:
"dkimpy ALGORITHM MESSAGE-BYTES sign|verify OPERATIONS-PER-SECOND".
Usage: dkim_dkimpy.py SECONDS RSA-KEY ED25519-KEY MESSAGE..."""

import base64
import subprocess
import sys
import time

import dkim


def rate(seconds, operation):
    # Operations per CPU second of this process, as dkim_bench and openssl speed count.
    start = time.process_time()
    count = 0
    while True:
        if not operation():
            raise SystemExit("dkimpy: an operation failed")
        count += 1
        now = time.process_time()
        if now - start >= seconds and count >= 3:
            return count / (now - start)


def public_der(path):
    return subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
                          check=True, capture_output=True).stdout


def main():
    seconds = float(sys.argv[1])
    rsa_path, ed25519_path = sys.argv[2], sys.argv[3]
    messages = [open(path, "rb").read() for path in sys.argv[4:]]
    with open(rsa_path, "rb") as handle:
        rsa_key = handle.read()
    # dkimpy wants the raw Ed25519 seed, base64: the end of the PKCS#8 DER.
    ed25519_der = subprocess.run(["openssl", "pkey", "-in", ed25519_path, "-outform", "DER"],
                                 check=True, capture_output=True).stdout
    records = {
        b"rsa._domainkey.bench.example.":
            b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der(rsa_path)),
        b"ed._domainkey.bench.example.":
            b"v=DKIM1; k=ed25519; p=" + base64.b64encode(public_der(ed25519_path)[-32:]),
    }

    def lookup(name, timeout=5):
        return records.get(name if name.endswith(b".") else name + b".")

    for algorithm, selector, key in [(b"rsa-sha256", b"rsa", rsa_key),
                                     (b"ed25519-sha256", b"ed", base64.b64encode(ed25519_der[-32:]))]:
        for message in messages:
            signed = [None]

            def sign():
                field = dkim.sign(message, selector, b"bench.example", key,
                                  canonicalize=(b"relaxed", b"relaxed"),
                                  signature_algorithm=algorithm)
                signed[0] = field + message
                return True

            def verify():
                return dkim.verify(signed[0], dnsfunc=lookup)

            for operation, function in [("sign", sign), ("verify", verify)]:
                per_second = rate(seconds, function)
                print(f"dkimpy {algorithm.decode()} {len(message)} {operation} {per_second:.1f}",
                      flush=True)


if __name__ == "__main__":
    main()
