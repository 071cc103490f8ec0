#!/usr/bin/env python3
"""The fault run: kill senders, cut and silence databases, lose mail servers' replies — on
purpose, on this machine — and check that shopcrm delivers every message exactly once (or
reports it in doubt), says what went wrong in one line and never hangs.

    .venv/bin/pip install -r requirements-dev.txt        # aiosmtpd: the test mail servers
    .venv/bin/python scripts/fault_run.py                 # MariaDB at root@127.0.0.1:3306
    .venv/bin/python scripts/fault_run.py --server 'mysql+pymysql://faults:secret@127.0.0.1:3306/'
    .venv/bin/python scripts/fault_run.py --sqlite-only   # without MariaDB (fewer scenarios)
    .venv/bin/python scripts/fault_run.py --only kill_storm lost_reply_dropped

It works in a temporary folder, in throwaway databases named ``fault_…`` (created and dropped;
the MariaDB account needs CREATE and DROP), with mail servers and proxies on 127.0.0.1 only. It
reads none of this installation's settings (``SHOPCRM_*`` variables are ignored) and never
touches its databases or its outbox. Prints one line per scenario and exits 1 if any
expectation failed. The scenarios and their expectations: tests/support/fault_scenarios.py;
what they mean: docs/FAULTS.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=os.environ.get("SHOPCRM_TEST_MARIADB_URL",
                                                           "mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4"),
                        help="MariaDB URL without a database, allowed to create and drop databases")
    parser.add_argument("--sqlite-only", action="store_true", help="no MariaDB: run the scenarios that need none")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these scenarios")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, databases)")
    args = parser.parse_args(argv)

    for name in [n for n in os.environ if n.startswith("SHOPCRM_") and not n.startswith("SHOPCRM_TEST_")]:
        del os.environ[name]  # this installation's settings must not reach the throwaway apps
    sys.path.insert(0, str(ROOT))
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        print("aiosmtpd is missing: .venv/bin/pip install -r requirements-dev.txt", file=sys.stderr)
        return 2
    import sqlalchemy as sa

    from tests.support import fault_scenarios as scenarios

    server = None if args.sqlite_only else args.server
    if server is not None:
        try:
            engine = sa.create_engine(server)
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            engine.dispose()
        except Exception as exc:  # noqa: BLE001 - told to the admin
            print(f"cannot use MariaDB at {sa.engine.make_url(server).render_as_string(hide_password=True)}: "
                  f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}\n(--server URL, or --sqlite-only)",
                  file=sys.stderr)
            return 2
    chosen = args.only or list(scenarios.SCENARIOS)
    unknown = [n for n in chosen if n not in scenarios.SCENARIOS]
    if unknown:
        print(f"unknown scenario(s) {unknown}; known: {', '.join(scenarios.SCENARIOS)}", file=sys.stderr)
        return 2

    folder = Path(tempfile.mkdtemp(prefix="shopcrm-faults-"))
    print(f"fault run in {folder} (demo shop being generated)", flush=True)
    started = time.monotonic()
    failed = 0
    rig = scenarios.Rig(folder, server)
    try:
        for name in chosen:
            scenario, needs_mariadb = scenarios.SCENARIOS[name]
            if needs_mariadb and server is None:
                print(f"SKIP  {name:<28} needs MariaDB")
                continue
            try:
                outcome = scenario(rig)
            except Exception as exc:  # noqa: BLE001 - a scenario that breaks is a failure to report
                outcome = scenarios.Outcome(name, problems=[f"{exc.__class__.__name__}: {exc}"])
            failed += bool(outcome.problems)
            figures = ", ".join(f"{k} {v}" for k, v in outcome.figures.items())
            print(f"{'FAIL' if outcome.problems else 'ok':<5} {name:<28} {outcome.seconds:>6} s  {figures}", flush=True)
            for problem in outcome.problems:
                print(f"      - {problem}")
    finally:
        rig.close()
        if not args.keep:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
    print(f"{len(chosen) - failed} of {len(chosen)} scenarios held in {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
