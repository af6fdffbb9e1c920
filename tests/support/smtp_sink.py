"""A minimal SMTP server for tests: accepts every message and keeps it in memory. Without a TLS
context it never offers STARTTLS and stands for a next hop that cannot do TLS; with one
(ssl.SSLContext for the server side, which may choose certificates by SNI) it offers STARTTLS and
records, per message, whether it arrived encrypted."""

import socket
import threading


class SmtpSink:
    def __init__(self, extensions=("PIPELINING", "8BITMIME"), tls_context=None):
        self.extensions = list(extensions)
        self.tls_context = tls_context
        self.messages = []          # (sender, [recipients], data bytes)
        self.encrypted = []         # per message in `messages`: True when it came over TLS
        self.sessions = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
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
        send = lambda text: connection.sendall(text.encode() + b"\r\n")
        send("220 sink.test ESMTP sink")
        sender, recipients = None, []
        encrypted = False
        try:
            reader = connection.makefile("rb")
            while True:
                raw = reader.readline()
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb = line[:4].upper()
                if verb in ("EHLO", "HELO"):
                    can_start_tls = self.tls_context is not None and not encrypted
                    offered = self.extensions + (["STARTTLS"] if can_start_tls else [])
                    lines = ["sink.test"] + offered
                    for index, text in enumerate(lines):
                        send(("250 " if index == len(lines) - 1 else "250-") + text)
                elif line.upper() == "STARTTLS" and self.tls_context is not None and not encrypted:
                    send("220 2.0.0 go ahead")
                    connection = self.tls_context.wrap_socket(connection, server_side=True)
                    send = lambda text, tls=connection: tls.sendall(text.encode() + b"\r\n")
                    reader = connection.makefile("rb")
                    encrypted = True
                    sender, recipients = None, []
                elif verb == "MAIL":
                    sender, recipients = line.split(":", 1)[1].strip(), []
                    send("250 2.1.0 OK")
                elif verb == "RCPT":
                    recipients.append(line.split(":", 1)[1].strip())
                    send("250 2.1.5 OK")
                elif verb == "DATA":
                    send("354 go on")
                    data = b""
                    for chunk in reader:
                        if chunk == b".\r\n":
                            break
                        data += chunk
                    with self.lock:
                        self.messages.append((sender, recipients, data))
                        self.encrypted.append(encrypted)
                    send("250 2.0.0 stored")
                elif verb == "QUIT":
                    send("221 2.0.0 bye")
                    break
                elif verb == "RSET" or verb == "NOOP":
                    send("250 2.0.0 OK")
                else:
                    send("502 5.5.1 not here")
        except OSError:
            pass  # includes ssl.SSLError: a client that refused our certificate
        finally:
            connection.close()

    def stop(self):
        self.running = False
        self.listener.close()
