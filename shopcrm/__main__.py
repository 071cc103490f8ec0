"""``python -m shopcrm init [INSTANCE_FOLDER]``: write the settings file before the app can start.

A production app refuses to start without a real SECRET_KEY, so ``flask shopcrm init`` cannot
run there yet; this creates ``shopcrm.cfg`` (mode 0600) without creating the app.
"""
import os
import sys

from .config import PROJECT_ROOT, write_instance_settings

USAGE = "usage: python -m shopcrm init [INSTANCE_FOLDER]   (default: $SHOPCRM_INSTANCE_PATH or ./instance)"


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "init" or len(argv) > 2:
        print(USAGE, file=sys.stderr)
        return 2
    default = os.environ.get("SHOPCRM_INSTANCE_PATH") or str(PROJECT_ROOT / "instance")
    path, written = write_instance_settings(argv[1] if len(argv) == 2 else default)
    print(f"wrote {path} with a new SECRET_KEY" if written else f"{path} exists; left as it is.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
