"""An LMTP server (RFC 2033) for tests, standing for a mailbox server such as Dovecot: plain text,
on a loopback TCP port or a unix socket. LHLO only (EHLO and HELO are refused, as LMTP wants);
after the data, one reply per accepted recipient in RCPT order, each from `replies`, a function
(recipient, how many times this recipient reached the data before) -> reply line, or None for
"250 2.0.0 saved". What was saved is kept per recipient. Test-only: trusts its input."""

import os
import socket
import threading


class LmtpSink:
    def __init__(self, unix_path=None, replies=None, rcpt_replies=None):
        self.replies = replies or (lambda recipient, seen: None)
        self.rcpt_replies = rcpt_replies or (lambda recipient: None)
        self.saved = []             # (sender, recipient, data bytes) for each 2xx after the data
        self.transactions = []      # (sender, [accepted recipients]) for each DATA
        self.seen = {}              # recipient -> times it reached the end of data
        self.commands = []          # every command line, in order
        self.sessions = 0
        self.unix_path = unix_path
        if unix_path:
            if os.path.exists(unix_path):
                os.unlink(unix_path)
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(unix_path)
            self.port = None
        else:
            self.listener = socket.socket()
            self.listener.bind(("127.0.0.1", 0))
            self.port = self.listener.getsockname()[1]
        self.listener.listen(16)
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.running:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(connection,), daemon=True).start()

    def _session(self, connection):
        with self.lock:
            self.sessions += 1
        reader = connection.makefile("rb")
        send = lambda text: connection.sendall(text.encode() + b"\r\n")
        send("220 mailbox.test LMTP ready")
        sender, recipients = None, []
        try:
            for raw in reader:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                with self.lock:
                    self.commands.append(line)
                verb = line[:4].upper()
                if verb == "LHLO":
                    send("250-mailbox.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
                         "250 8BITMIME")
                elif verb == "MAIL":
                    sender, recipients = _path(line), []
                    send("250 2.1.0 OK")
                elif verb == "RCPT":
                    recipient = _path(line)
                    refusal = self.rcpt_replies(recipient)
                    if refusal:
                        send(refusal)
                    else:
                        recipients.append(recipient)
                        send("250 2.1.5 OK")
                elif verb == "DATA":
                    if not recipients:
                        send("503 5.5.1 no valid recipients")  # RFC 2033 4.2
                        continue
                    send("354 go on")
                    data = b""
                    for chunk in reader:
                        if chunk == b".\r\n":
                            break
                        data += chunk[1:] if chunk.startswith(b".") else chunk
                    lines = []
                    with self.lock:
                        self.transactions.append((sender, list(recipients)))
                        for recipient in recipients:
                            seen = self.seen.get(recipient, 0)
                            self.seen[recipient] = seen + 1
                            reply = self.replies(recipient, seen) or "250 2.0.0 saved"
                            if reply.startswith("2"):
                                self.saved.append((sender, recipient, data))
                            lines.append(reply)
                    for reply in lines:
                        send(reply)
                    sender, recipients = None, []
                elif verb == "RSET":
                    sender, recipients = None, []
                    send("250 2.0.0 OK")
                elif verb == "NOOP":
                    send("250 2.0.0 OK")
                elif verb == "QUIT":
                    send("221 2.0.0 bye")
                    break
                else:
                    send("500 5.5.1 LMTP here: " + verb)
        except OSError:
            pass
        finally:
            connection.close()

    def saved_for(self, recipient):
        with self.lock:
            return [entry for entry in self.saved if entry[1] == recipient]

    def stop(self):
        self.running = False
        self.listener.close()
        if self.unix_path and os.path.exists(self.unix_path):
            os.unlink(self.unix_path)


def _path(line):
    """The address between < and > of a MAIL or RCPT line (parameters after it ignored)."""
    value = line.split(":", 1)[1].strip()
    if value.startswith("<"):
        return value[1:value.index(">")]
    return value.split()[0]
