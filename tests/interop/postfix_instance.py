"""A private Postfix instance for interop tests: its own config, queue and data directories in a
temporary folder, smtpd on a free loopback port, log to a file (no syslog). Runs as root, which
`postfix -c DIR` needs; the system Postfix (if any) is never touched."""

import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"

# Only the services a relaying Postfix uses; chroot off, so no copies of /etc are needed.
MASTER_CF = """\
{port}    inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postfix_installed():
    return os.path.exists(POSTFIX) and os.geteuid() == 0


class PostfixInstance:
    def __init__(self, settings=None):
        self.root = tempfile.mkdtemp(prefix="bulwark-postfix-")
        os.chmod(self.root, 0o755)
        self.config_dir = os.path.join(self.root, "etc")
        self.queue_dir = os.path.join(self.root, "spool")
        self.data_dir = os.path.join(self.root, "data")
        self.log_file = os.path.join(self.root, "maillog")
        self.port = free_port()
        self.settings = {
            "compatibility_level": "3.6",
            "config_directory": self.config_dir,
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "maillog_file": self.log_file,
            "maillog_file_prefixes": self.root,
            "myhostname": "postfix.remote.test",
            "mydomain": "remote.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "smtp_host_lookup": "native",
            "smtp_dns_support_level": "disabled",
            "biff": "no",
            "append_dot_mydomain": "no",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
        }
        self.settings.update(settings or {})
        self.started = False

    def deliver_to_maildirs(self, domains, mailbox_maps="static:remote/"):
        """Makes this Postfix the final destination of `domains` (a comma-separated list), storing
        mail as user nobody in Maildirs under <root>/mail named by `mailbox_maps` (by default one
        Maildir, "remote", for every address). Returns that mail folder."""
        mail = os.path.join(self.root, "mail")
        os.makedirs(mail, exist_ok=True)
        shutil.chown(mail, "nobody", "nogroup")
        self.settings.update({
            "virtual_mailbox_domains": domains,
            "virtual_mailbox_base": mail,
            "virtual_mailbox_maps": mailbox_maps,
            "virtual_uid_maps": "static:" + str(pwd.getpwnam("nobody").pw_uid),
            "virtual_gid_maps": "static:" + str(grp.getgrnam("nogroup").gr_gid),
            "virtual_minimum_uid": "1",
        })
        return mail

    def write(self):
        for folder in (self.config_dir, self.queue_dir, self.data_dir):
            os.makedirs(folder, exist_ok=True)
        os.chown(self.data_dir, _uid("postfix"), -1)
        with open(os.path.join(self.config_dir, "main.cf"), "w") as handle:
            for key, value in self.settings.items():
                handle.write(f"{key} = {value}\n")
        with open(os.path.join(self.config_dir, "master.cf"), "w") as handle:
            handle.write(MASTER_CF.format(port=f"127.0.0.1:{self.port}"))

    def postfix(self, *arguments, check=True):
        return subprocess.run([POSTFIX, "-c", self.config_dir, *arguments], capture_output=True,
                              text=True, check=check, timeout=60)

    def start(self):
        self.write()
        result = self.postfix("start", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"postfix start failed ({result.returncode}):\n{result.stdout}\n"
                               f"{result.stderr}\n{self.log()}")
        self.started = True
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("postfix smtpd did not listen:\n" + self.log())

    def log(self):
        try:
            with open(self.log_file, errors="replace") as handle:
                return handle.read()
        except OSError:
            return "(no maillog)"

    def queue_listing(self):
        return subprocess.run(["postqueue", "-c", self.config_dir, "-p"], capture_output=True,
                              text=True).stdout

    def flush(self):
        subprocess.run(["postqueue", "-c", self.config_dir, "-f"], capture_output=True)

    def stop(self):
        if self.started:
            self.postfix("stop", check=False)
            self.started = False

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _uid(name):
    import pwd
    return pwd.getpwnam(name).pw_uid
