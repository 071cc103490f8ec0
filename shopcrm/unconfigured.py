"""What runs while shopcrm's configuration is wrong: one clear line, never a traceback.

``create_app`` raises :class:`ConfigError` for a configuration it refuses: no real SECRET_KEY
in production (every fresh install, before ``init``), a setting or a settings file that does
not parse, a database address that cannot work. ``wsgi.py`` catches it and serves
:func:`unconfigured_app` instead, so that

* the command line still works where it can: ``flask --app wsgi shopcrm init`` (the README's
  first command) writes the settings file, and ``--help`` lists every command and its options;
  every other command prints the problem in one line and exits 1 (``db`` and unknown commands
  too);
* a web server (mod_wsgi, gunicorn, ``flask run``) answers every request with a short 503 page
  that tells the shop owner what to do, and writes the problem to its error log once per
  process, instead of a traceback on every request. The page does not show the problem itself:
  it may name files and settings of the server, and the page is public.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import html
import os
import re
import sys

import click
from flask import Flask
from flask.cli import AppGroup

from .config import INSTANCE_FILE, instance_folder
from .errors import ConfigError

#: Commands of ``flask shopcrm`` that need no configuration.
WORKS_UNCONFIGURED = {"init"}
PAGE_STYLE = ("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2933;background:#f5f7fa;"
              "margin:0;padding:1.5rem;line-height:1.5}main{max-width:40rem;margin:3rem auto;background:#fff;"
              "border:1px solid #d9e2ec;border-radius:8px;padding:1.5rem 2rem}h1{font-size:1.4rem;margin-top:0}"
              "code{background:#f0f4f8;padding:0 .25rem;border-radius:3px;overflow-wrap:anywhere}"
              ".muted{color:#52606d;font-size:.95rem}"
              "@media (max-width:480px){body{padding:.75rem}main{margin:1rem auto;padding:1rem 1.25rem}}")
_logged = False


def one_line(error: BaseException, instance_path: str | None = None) -> str:
    """A configuration problem as one line (``shopcrm cannot start: a; b``), with the way out
    for a new install when the settings file with the SECRET_KEY does not exist yet."""
    parts = [" ".join(part.split()) for part in re.split(r"\n\s*-\s+", str(error).strip()) if part.strip()]
    if not parts:
        parts = [type(error).__name__]
    settings = os.path.join(instance_path, INSTANCE_FILE) if instance_path else None
    fresh = (settings and not os.path.exists(settings) and not os.environ.get("SHOPCRM_SETTINGS")
             and not os.environ.get("SHOPCRM_SECRET_KEY"))
    if fresh:  # the first command on a new install: say what to run, not how keys are made
        parts = [f"there is no settings file yet ({settings}), so no SECRET_KEY; on a new install run "
                 "`flask --app wsgi shopcrm init` (or `python -m shopcrm init`), which writes it with a new key"
                 if part.startswith("SECRET_KEY is missing") else part for part in parts]
    head = parts[0] if parts[0].startswith("shopcrm cannot start") else f"shopcrm cannot start: {parts[0]}"
    return head if len(parts) == 1 else head.rstrip(":") + ": " + "; ".join(parts[1:])


def _refuse(line: str):
    def refuse(**_params):
        raise click.ClickException(line)
    return refuse


def _optional(param: click.Parameter) -> click.Parameter:
    param = copy.copy(param)
    param.required, param.prompt = False, None
    return param


class RefusingGroup(click.Group):
    """A stand-in for a command group: the real commands with their names, help and options
    (so ``--help`` works at every level), but running one prints ``line`` and exits 1, except
    those in ``works`` (run as they are)."""

    def __init__(self, real: click.Group, line: str, works: set[str] = frozenset()):
        super().__init__(real.name, help=real.help, short_help=real.short_help, params=list(real.params),
                         epilog=f"Not configured yet: {line}")
        self.real, self.line, self.works = real, line, set(works)

    def list_commands(self, ctx):
        return self.real.list_commands(ctx)

    def get_command(self, ctx, name):
        command = self.real.get_command(ctx, name)
        if command is None or name in self.works:
            return command
        if isinstance(command, click.Group):
            return RefusingGroup(command, self.line)
        stand_in = copy.copy(command)
        stand_in.callback = _refuse(self.line)
        stand_in.params = [_optional(param) for param in command.params]  # the problem, not "missing --email"
        return stand_in


class UnconfiguredCommands(AppGroup):
    """The unconfigured app's ``app.cli``: ``shopcrm`` (as :class:`RefusingGroup`), and for any
    other name (``db``, a typo) a command that prints the problem."""

    def __init__(self, line: str):
        super().__init__("unconfigured")
        self.line = line

    def list_commands(self, ctx):
        return ["shopcrm"]

    def get_command(self, ctx, name):
        if name == "shopcrm":
            from .cli import shopcrm_group

            return RefusingGroup(shopcrm_group, self.line, WORKS_UNCONFIGURED)
        return click.Command(name, callback=_refuse(self.line), context_settings={"ignore_unknown_options": True},
                             params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
                             help="Not available: shopcrm's configuration has a problem (run it to see which).")


def _page() -> bytes:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>shopcrm is not set up yet</title>
<style>{PAGE_STYLE}</style>
</head>
<body>
<main>
<h1>shopcrm is not set up yet</h1>
<p>Its settings have a problem, so it cannot start. Your shop is not affected: it keeps selling as
usual, and nothing shopcrm stored is lost.</p>
<p>Please ask whoever looks after your web server (your hosting admin) to have a look. They find the
problem in one line in the web server's error log, starting with “shopcrm cannot start”.</p>
<p class="muted">For the hosting admin: in shopcrm's folder, <code>flask --app wsgi shopcrm doctor</code>
prints the problem. On a new installation, <code>flask --app wsgi shopcrm init</code> writes the settings
file (<code>instance/{html.escape(INSTANCE_FILE)}</code>) with a new secret key; then reload the web server.</p>
</main>
</body>
</html>
""".encode()


def _style_hash() -> str:
    return base64.b64encode(hashlib.sha256(PAGE_STYLE.encode()).digest()).decode()


class ProblemPage:
    """The WSGI app of an unconfigured shopcrm: 503 with :func:`_page` for every request, the
    problem written once per process to the server's error stream (``wsgi.errors``: Apache's
    error log under mod_wsgi, gunicorn's error log)."""

    def __init__(self, line: str):
        self.line, self.body = line, _page()

    def __call__(self, environ, start_response):
        log(self.line, environ.get("wsgi.errors"))
        start_response("503 Service Unavailable", [
            ("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(self.body))),
            ("Cache-Control", "no-store"), ("Retry-After", "300"), ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"), ("Referrer-Policy", "same-origin"),
            ("Content-Security-Policy", f"default-src 'none'; style-src 'sha256-{_style_hash()}'; "
                                        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
        ])
        return [self.body] if environ.get("REQUEST_METHOD") != "HEAD" else [b""]


def log(line: str, stream=None) -> None:
    """Write the problem to the error log, once per process."""
    global _logged
    if _logged:
        return
    _logged = True
    stream = stream or sys.stderr
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def unconfigured_app(error: ConfigError, instance_path: str | None = None) -> Flask:
    """A minimal Flask app for a configuration shopcrm refuses (see the module's docstring).

    Under a web server the problem is logged when the app is made (mod_wsgi imports ``wsgi.py``
    at start-up or at the first request); under ``flask …`` the command prints it instead.
    """
    instance_path = instance_path or instance_folder()
    line = one_line(error, instance_path)
    app = Flask("shopcrm", instance_path=instance_path, static_folder=None, template_folder=None)
    app.config["SHOPCRM_CONFIG_PROBLEM"] = line
    app.cli = UnconfiguredCommands(line)
    app.wsgi_app = ProblemPage(line)
    if click.get_current_context(silent=True) is None:  # a server, not the `flask` command line
        log(line)
    return app
