"""A real SMTP server for the integration tests (aiosmtpd).

Every message it accepts is written to OUT_DIR as NAME.json: envelope sender and recipients,
subject, and the decoded text and HTML parts. Options: --auth USER:PASSWORD requires AUTH;
--cert/--key offer STARTTLS (or, with --implicit-tls, TLS from the first byte). Prints the
port once it accepts connections and stops when its standard input closes.
"""

import argparse
import json
import os
import socket
import ssl
import sys
import uuid
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, out_dir):
        self.out_dir = out_dir

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        parts = {"text/plain": "", "text/html": ""}
        for part in message.walk():
            if part.get_content_type() in parts and not part.is_multipart():
                parts[part.get_content_type()] = part.get_content()
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "text": parts["text/plain"],
            "html": parts["text/html"],
            "authenticated": bool(session.authenticated),
            "tls": server.transport.get_extra_info("sslcontext") is not None,
        }
        name = uuid.uuid4().hex
        temporary = os.path.join(self.out_dir, name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(record, file)
        os.rename(temporary, os.path.join(self.out_dir, name + ".json"))
        return "250 OK"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok)

    return check


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--auth")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--implicit-tls", action="store_true")
    args = parser.parse_args()

    context = None
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    options = {}
    if args.auth:
        user, password = args.auth.split(":", 1)
        options.update(
            authenticator=authenticator(user, password),
            auth_required=True,
            # aiosmtpd only counts STARTTLS as TLS here; with implicit TLS every byte is.
            auth_require_tls=context is not None and not args.implicit_tls,
        )
    if context is not None and not args.implicit_tls:
        options.update(tls_context=context, require_starttls=True)
    port = free_port()
    controller = Controller(
        Sink(args.out_dir),
        hostname="127.0.0.1",
        port=port,
        ssl_context=context if args.implicit_tls else None,
        server_hostname="localhost",
        **options,
    )
    controller.start()
    print(port, flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
