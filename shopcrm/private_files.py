"""Files and folders shopcrm creates are its own: folders 0700, files 0600, whatever the umask.

The instance folder holds the secret key (``shopcrm.cfg``), the SQLite databases hold customer
data and the outbox holds whole e-mails; under the usual umask (022) they would be readable by
every account on the host. Modes are given when a file is created (``os.open`` with the mode,
folders chmod-ed right after ``makedirs``), so there is no moment when a file is open to others.

Only what shopcrm creates is changed: an existing folder or file keeps the modes its owner gave
it (docs/DEPLOY.md's ``root:www-data 0750`` instance folder, for example).
"""
from __future__ import annotations

import os

from sqlalchemy.engine import make_url

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: str) -> None:
    """Create ``path`` (and missing parents) readable only by this user; an existing folder is left as it is."""
    if os.path.isdir(path):
        return
    os.makedirs(path, mode=FOLDER_MODE, exist_ok=True)
    os.chmod(path, FOLDER_MODE)  # makedirs' mode passes through the umask


def open_private(path: str, mode: str = "wb"):
    """Open ``path`` for writing (created, or truncated) with mode 0600 from its first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    return os.fdopen(fd, mode)


def private_sqlite(url: str | None) -> None:
    """Create the file of a SQLite URL empty with mode 0600 before SQLite does (it would follow
    the umask); its ``-wal`` and ``-shm`` files take the database file's mode from it."""
    if not url or not url.startswith("sqlite"):
        return
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    if os.path.exists(database) or not os.path.isdir(os.path.dirname(os.path.abspath(database))):
        return
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass  # another process was first; it made the same file
