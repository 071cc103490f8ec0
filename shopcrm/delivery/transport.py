"""Where messages go: an SMTP session opened through Flask-Mail, or ``.eml`` files.

A message travels in steps so the sender can commit its state at the right moment and let
that commit overlap the exchange instead of adding to it:

1. :meth:`send_envelope` writes the envelope and does not wait;
2. the sender starts the commit that makes the row ``sending`` (MariaDB/MySQL);
3. :meth:`read_envelope` reads the answers and :meth:`send_body` sends the message without
   its final ``.`` line — the server reads it, but delivers nothing yet;
4. once the commit is done (on SQLite: made now), :meth:`end_content` sends the ``.``, which
   alone makes the server take responsibility for the message, and
   :meth:`read_content_reply` reads the answer once the sender has built the next message.

Without PIPELINING the envelope is MAIL FROM alone (its answer is simply read after the
commit; RCPT TO and DATA then wait for their answers as usual) and every answer is read before
the next command, so the exchange is exactly :meth:`smtplib.SMTP.sendmail`'s. When the server
offers PIPELINING (RFC 2920; Postfix, Exim and most relays do), MAIL FROM, RCPT TO and DATA go
out as one group and the content's answer is read after the next message's envelope has been
sent: one round trip per message instead of four. A message found not sendable after its DATA
was accepted is abandoned by closing the connection (RFC 5321: without the final dot nothing is
delivered); the next message reconnects.
"""
from __future__ import annotations

import os
import re
import smtplib
import socket

from flask import current_app
from flask_mail import Connection

from ..private_files import open_private, private_folder

# An address the outbox already checked: quoted as <address> without email.utils' parser,
# which costs a tenth of a millisecond per call (two calls per message). Anything else,
# and anything that could break out of the command line, goes through smtplib's own quoting.
_PLAIN_ADDRESS = re.compile(r"[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+")


def quote_address(address: str) -> str:
    """``<address>`` for an SMTP command."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


def dot_stuffed(data: bytes) -> bytes:
    """RFC 5321 4.5.2: a line that starts with a dot gets another one (bytes.replace: far
    cheaper per message than a regular expression, see docs/BENCHMARKS.md)."""
    data = data.replace(b"\n.", b"\n..")
    return b"." + data if data.startswith(b".") else data


class TimedConnection(Connection):
    """Flask-Mail's connection with a timeout, so a mail server that stops answering cannot
    hang the sender (and its cron lock) forever."""

    def configure_host(self):
        state, timeout = self.mail, current_app.config["SHOPCRM_SMTP_TIMEOUT"] or None
        host = (smtplib.SMTP_SSL if state.use_ssl else smtplib.SMTP)(state.server, state.port, timeout=timeout)
        host.set_debuglevel(int(state.debug))
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            if not (state.use_tls or state.use_ssl or current_app.config.get("SHOPCRM_MAIL_ALLOW_PLAIN_AUTH")):
                host.close()  # the start-up check says the same (config.plain_auth); settings changed since
                raise smtplib.SMTPException("refusing to send the mail password without TLS: set MAIL_USE_TLS or "
                                            "MAIL_USE_SSL (or SHOPCRM_MAIL_ALLOW_PLAIN_AUTH=1 for a local server)")
            host.login(state.username, state.password)
        return host


class SmtpChannel:
    """One SMTP session, opened through Flask-Mail: one per batch, re-opened after an abandoned
    message, and by the sender after ``MAIL_MAX_EMAILS`` messages."""

    def __init__(self):
        self.connection: TimedConnection | None = None
        self.host: smtplib.SMTP | None = None
        self.pipelining = False
        self._envelope: tuple[str, str] | None = None  # written, answers not read yet
        self._in_data = False  # the server accepted DATA: it waits for content
        self._body_sent = False  # the content went out but not its end
        self._content_unread = False
        self.messages = 0  # MAIL FROM commands in this session (relays that limit sessions count these)
        config = current_app.config
        # RFC 5321 4.5.3.2.6: after the final "." a server may take up to 10 minutes to answer;
        # giving up sooner leaves the message in doubt (it may have been taken), so this wait
        # has its own, longer setting.
        self.timeout = config["SHOPCRM_SMTP_TIMEOUT"] or None
        self.data_timeout = config["SHOPCRM_SMTP_DATA_TIMEOUT"] or None

    def open(self) -> None:
        self.messages = 0
        self.connection = TimedConnection(current_app.extensions["mail"])
        self.connection.__enter__()
        self.host = self.connection.host
        self._envelope, self._in_data, self._body_sent, self._content_unread = None, False, False, False
        if self.host is not None:  # None under MAIL_SUPPRESS_SEND: Flask-Mail's "pretend to send"
            # Small commands written right after a message must not wait for its
            # acknowledgement (Nagle's algorithm would hold them back for a round trip).
            self.host.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.host.ehlo_or_helo_if_needed()
            self.pipelining = self.host.has_extn("pipelining")

    def send_envelope(self, sender: str, recipient: str) -> None:
        if self.connection is None:
            self.open()
        if self.host is None:
            return
        commands = f"MAIL FROM:{quote_address(sender)}\r\n"
        if self.pipelining:
            commands += f"RCPT TO:{quote_address(recipient)}\r\nDATA\r\n"
        self.host.send(commands)
        self._envelope = (sender, recipient)
        self.messages += 1

    def read_envelope(self) -> None:
        """Raise :class:`smtplib.SMTPSenderRefused`, :class:`smtplib.SMTPRecipientsRefused` or
        :class:`smtplib.SMTPDataError` if the server refused the envelope written last."""
        if self._envelope is None:
            return
        (sender, recipient), self._envelope = self._envelope, None
        mail = self.host.getreply()
        if not self.pipelining:
            if mail[0] != 250:
                self._after_refusal(mail[0])
                raise smtplib.SMTPSenderRefused(mail[0], mail[1], sender)
            self.host.putcmd("rcpt", f"TO:{quote_address(recipient)}")  # smtplib's rcpt() without its parser
            rcpt = self.host.getreply()
            if rcpt[0] not in (250, 251):
                self._after_refusal(rcpt[0])
                raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
            return
        rcpt, data = self.host.getreply(), self.host.getreply()
        self._in_data = data[0] == 354
        if mail[0] == 250 and rcpt[0] in (250, 251) and self._in_data:
            return
        if self._in_data:  # it waits for content although the envelope was refused: send none
            self.drop()
        else:
            self._after_refusal(421 if 421 in (mail[0], rcpt[0], data[0]) else data[0])
        if mail[0] != 250:
            raise smtplib.SMTPSenderRefused(mail[0], mail[1], sender)
        if rcpt[0] not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
        raise smtplib.SMTPDataError(data[0], data[1])

    def send_content(self, data: bytes, message_id: str) -> None:
        """The message itself; :meth:`read_content_reply` reads the answer (the sender prepares
        the next message meanwhile)."""
        self.send_body(data)
        self.end_content(message_id)

    def send_body(self, data: bytes) -> None:
        """The message without its final ``.`` line: the server reads and checks it, but
        nothing is delivered until :meth:`end_content` (RFC 5321 4.1.1.4; a session that ends
        first discards it). The sender sends it while its commit is still on the way."""
        if self.host is None:
            return
        if not self._in_data:
            code, reply = self.host.docmd("data")
            if code != 354:
                self._after_refusal(code)
                raise smtplib.SMTPDataError(code, reply)
        self._in_data = False
        body = dot_stuffed(data)
        self.host.send(body if body.endswith(b"\r\n") else body + b"\r\n")
        self._body_sent = True

    def end_content(self, message_id: str) -> None:
        """The end of the message: from here on the server is responsible for it."""
        if self.host is None:
            return
        self._body_sent = False
        self.host.send(b".\r\n")
        self._content_unread = True

    def read_content_reply(self) -> None:
        if not self._content_unread:
            return
        self._content_unread = False
        longer = self.data_timeout != self.timeout
        if longer:
            self.host.sock.settimeout(self.data_timeout)
        try:
            code, reply = self.host.getreply()
        finally:
            if longer and self.host.sock is not None:  # smtplib closes the socket when the read fails
                self.host.sock.settimeout(self.timeout)
        if code != 250:
            # The answer to the content ends the mail transaction (RFC 5321 4.1.1.4): no RSET,
            # which with PIPELINING would land behind the next envelope, already sent.
            if code == 421:
                self.host.close()
            raise smtplib.SMTPDataError(code, reply)

    def abort(self) -> None:
        """Abandon the message whose envelope (or body) went out last: it must not be sent after all."""
        if self.host is None:
            return
        if self._body_sent:  # only ending the session without the final "." cancels it
            self.drop()
            return
        try:
            self.read_envelope()
        except (smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError):
            return  # refused anyway; the session was reset
        if self._in_data:
            self.drop()  # the server waits for content: only closing the session cancels it
        else:
            self.host.rset()

    def drop(self) -> None:
        """End the session at once, without QUIT: a message not finished is not delivered."""
        if self.host is not None:
            self.host.close()
        self.connection = self.host = None
        self._in_data = self._body_sent = False

    def _after_refusal(self, code: int) -> None:
        if code == 421:
            self.host.close()
            return
        try:
            self.host.rset()
        except smtplib.SMTPServerDisconnected:
            pass

    def close(self) -> None:
        if self._body_sent:  # QUIT would be read as part of the message
            self.drop()
        if self.host is not None:
            try:
                self.host.quit()
            except (smtplib.SMTPException, OSError):
                pass  # the server went away after our last message; nothing is lost
        self.connection = self.host = None


class FileChannel:
    """Writes each message to ``<outbox>/<message id>.eml``; used when no SMTP server is set."""

    pipelining = False
    messages = 0  # a folder has no sessions to renew

    def __init__(self, directory: str):
        self.directory = directory
        self._body: bytes | None = None

    def open(self) -> None:
        private_folder(self.directory)  # 0700: the outbox holds whole e-mails

    def send_envelope(self, sender: str, recipient: str) -> None:
        pass

    def read_envelope(self) -> None:
        pass

    def send_content(self, data: bytes, message_id: str) -> None:
        self.send_body(data)
        self.end_content(message_id)

    def send_body(self, data: bytes) -> None:
        self._body = data

    def end_content(self, message_id: str) -> None:
        data, self._body = self._body, None
        name = message_id.strip("<>").replace("@", "_at_").replace("/", "_")
        path = os.path.join(self.directory, name + ".eml")
        tmp = path + ".tmp"
        with open_private(tmp) as fh:  # 0600 from the first byte
            fh.write(data)
        os.replace(tmp, path)  # a reader never sees half a file

    def read_content_reply(self) -> None:
        pass

    def abort(self) -> None:
        self._body = None

    def drop(self) -> None:
        self._body = None

    def close(self) -> None:
        pass


def make_channel():
    if current_app.config.get("MAIL_SERVER"):
        return SmtpChannel()
    return FileChannel(current_app.config["SHOPCRM_OUTBOX_DIR"])
