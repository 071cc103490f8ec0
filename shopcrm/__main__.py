"""``python -m shopcrm init [INSTANCE_FOLDER]``: write the settings file without the app.

It needs no configuration at all (``flask --app wsgi shopcrm init`` does the same through the
app that stands in while the configuration is incomplete): it creates ``shopcrm.cfg`` (mode
0600) with a new SECRET_KEY. Every problem is one line on stderr and a non-zero exit code.
"""
import os
import sys

from .config import INSTANCE_FILE, PROJECT_ROOT, write_instance_settings

USAGE = "usage: python -m shopcrm init [INSTANCE_FOLDER]   (default: $SHOPCRM_INSTANCE_PATH or ./instance)"


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    if not argv or argv[0] != "init" or len(argv) > 2:
        print(USAGE, file=sys.stderr)
        return 2
    default = os.environ.get("SHOPCRM_INSTANCE_PATH") or str(PROJECT_ROOT / "instance")
    folder = argv[1] if len(argv) == 2 else default
    try:  # a folder given here wins over SHOPCRM_SETTINGS; without one, the file the app will read
        path, written = write_instance_settings(folder, os.path.join(folder, INSTANCE_FILE) if len(argv) == 2 else None)
    except OSError as exc:
        import getpass

        print(f"shopcrm: cannot write the settings file in {folder} as the user {getpass.getuser()}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {path} with a new SECRET_KEY" if written else f"{path} exists; left as it is.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
