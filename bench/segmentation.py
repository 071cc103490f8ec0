"""Segmentation benchmark: the database's floor, a full shopcrm run, and the naive pipeline.

    .venv/bin/python bench/segmentation.py                 # 100k customers, 3 repetitions
    .venv/bin/python bench/segmentation.py --scaling       # plus 10k and 1M customers
    .venv/bin/python bench/segmentation.py --drop          # remove every benchmark database

Needs MariaDB (``--server``, default root on 127.0.0.1) and ``requirements-bench.txt``. The shops
are built once into ``shopcrm_bench_<size>`` databases and reused; runs are stored in
``shopcrm_bench_crm_<size>`` with a history of two runs (so every measured run also prunes
one, as a run does in steady state), and nothing grows from one invocation to the next. It measures, side by side:

(a) the floor: MariaDB's own time for exactly the queries shopcrm's extraction sends (they are
    captured while an extraction runs), once as ``SELECT COUNT(*) FROM (query)`` and once
    through the C client with the rows thrown away; the smaller of the two counts;
(b) a full shopcrm run (extract, mine, store) in a child process, with its peak RSS;
(c) the naive pipeline (``bench/naive.py``: every event row into pandas) in a child process,
    with its peak RSS.

Every figure is the median of ``--repeat`` repetitions. The machine's load is printed before
and after: on a shared machine the figures move with it, the ratios much less.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import shops  # noqa: E402
import sqlalchemy as sa  # noqa: E402

DEFAULT_SERVER = "mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4"
CRM_DATABASE = os.environ.get("SHOPCRM_BENCH_CRM_DATABASE", shops.DB_PREFIX + "crm")
VIEW_INDEX = "ix_product_views_customer"


# --- child processes: one measured thing each, reporting JSON on stdout ------------------------------

def peak_rss_mb() -> float:
    """This process's own peak resident memory (MB): ``VmHWM`` of /proc/self/status.

    Not ``getrusage``: a child started while this benchmark's parent process is large (it has
    just built a 1.8 GB shop) inherits the parent's resident size as its starting maximum
    through fork, and Linux keeps that maximum across exec, so RUSAGE_SELF in the child reported
    1,797 MB for a run that never used that much. VmHWM belongs to the child's own address space
    (a new one at exec).
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # not Linux


def bench_app(shop_url: str, crm_url: str):
    from shopcrm import create_app

    return create_app({"SHOPCRM_ENV": "testing", "SECRET_KEY": "bench-" + "x" * 40, "SQLALCHEMY_DATABASE_URI": crm_url,
                       "SHOPCRM_SHOP_DATABASE_URI": shop_url, "SHOPCRM_RUN_HISTORY": 2,
                       "INSTANCE_PATH": str(HERE / ".cache" / "instance")})


def child_run(shop_url: str, crm_url: str) -> dict:
    """(b): one shopcrm run, as cron starts it (``flask shopcrm segment``; the tables exist)."""
    from shopcrm.segmentation.run import run_segmentation

    app = bench_app(shop_url, crm_url)
    with app.app_context():
        started = time.perf_counter()
        run = run_segmentation(as_of=shops.BENCH_NOW, requested_by="bench")
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "timings": run.timings, "segments": len(run.segments),
                "customers": run.counts["customers"], "peak_rss_mb": peak_rss_mb(),
                "quality": {k: run.quality.get(k) for k in ("silhouette", "davies_bouldin", "stability")},
                "lifetime": {k: run.quality.get(k) for k in ("lifetime", "churn_ranking", "value_ranking")}}


def child_naive(shop_url: str, k: int) -> dict:
    """(c): the naive pandas pipeline."""
    import naive

    started = time.perf_counter()
    result = naive.run(shop_url, shops.BENCH_NOW, n_clusters=k)
    return {"seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb(), **result}


def in_child(kind: str, *args: str) -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", kind, *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        raise RuntimeError(f"the {kind} child failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - started
    return result


# --- (a) the floor --------------------------------------------------------------------------------------

def captured_queries(shop_url: str) -> list[str]:
    """The statements shopcrm's extraction sends, with their parameters inlined."""
    from shopcrm.segmentation.extract import extract
    from shopcrm.shop.presets import preset
    from shopcrm.shop.readonly import install_guard

    engine = install_guard(sa.create_engine(shop_url))
    statements: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(cursor.mogrify(statement, parameters))

    with engine.connect() as conn:
        extract(conn, preset("generic"), shops.BENCH_NOW)
    engine.dispose()
    return statements


def floor(shop_url: str, database: str, statements: list[str]) -> dict:
    """Server time of the extraction's queries: COUNT(*)-wrapped, and via the C client."""
    engine = sa.create_engine(shop_url)
    wrapped = 0.0
    with engine.connect() as conn:
        conn.exec_driver_sql("SET SESSION group_concat_max_len = @@max_allowed_packet")
        for statement in statements:
            started = time.perf_counter()
            conn.exec_driver_sql(f"SELECT COUNT(*) FROM ({statement}) AS q").scalar()
            wrapped += time.perf_counter() - started
    engine.dispose()
    url = sa.engine.make_url(shop_url)
    script = "SET SESSION group_concat_max_len = @@max_allowed_packet;\n" + ";\n".join(statements) + ";\n"
    command = ["mariadb", "--batch", "--skip-column-names", "-h", url.host or "127.0.0.1", "-P", str(url.port or 3306),
               "-u", url.username or "root", database]
    if url.password:
        command.insert(1, f"--password={url.password}")
    started = time.perf_counter()
    subprocess.run(command, input=script, text=True, stdout=subprocess.DEVNULL, check=True)
    client = time.perf_counter() - started
    return {"count_wrapped": wrapped, "c_client": client, "seconds": min(wrapped, client),
            "queries": len(statements)}


# --- the benchmark --------------------------------------------------------------------------------------

def machine(server: str) -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), "0")
    engine = sa.create_engine(server)
    with engine.connect() as conn:
        server_version, pool = conn.exec_driver_sql("SELECT @@version, @@innodb_buffer_pool_size").one()
    engine.dispose()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(int(memory) / 1024 ** 2, 1),
            "os": platform.platform(), "python": platform.python_version(), "mariadb": server_version,
            "innodb_buffer_pool_mb": int(pool) // 2 ** 20,
            "packages": {p: installed(p) for p in ("numpy", "scikit-learn", "scipy", "SQLAlchemy", "PyMySQL", "pandas")}}


def installed(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ensure_crm(server: str, size: shops.ShopSize) -> str:
    """shopcrm's own database for the runs on one shop, migrated (a history of two runs: it
    never grows)."""
    from flask_migrate import upgrade

    name = f"{CRM_DATABASE}_{size.name}"
    admin = sa.create_engine(shops.server_url(server))
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    admin.dispose()
    url = shops.server_url(server, name)
    app = bench_app(shops.server_url(server, size.database), url)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        from shopcrm.extensions import db

        for engine in db.engines.values():
            engine.dispose()
    return url


def variants(shop_url: str, crm_url: str) -> dict[str, tuple[str, str]]:
    """The run under the default driver, and the two faster set-ups a shop may choose."""
    found = {"pymysql, bulk load": (shop_url, crm_url + "&local_infile=1")}
    try:
        import MySQLdb  # noqa: F401  mysqlclient, the C driver (optional)
    except ImportError:
        return found
    c_driver = lambda url: url.replace("mysql+pymysql://", "mysql+mysqldb://")  # noqa: E731
    found["mysqlclient"] = (c_driver(shop_url), c_driver(crm_url))
    return found


def measure(server: str, size: shops.ShopSize, repeat: int, naive: bool, say, others: bool = False) -> dict:
    info = shops.ensure_shop(server, size, say)
    shop_url, crm_url = shops.server_url(server, size.database), ensure_crm(server, size)
    statements = captured_queries(shop_url)
    result: dict = {"size": size.name, "counts": info["counts"], "floor": [], "run": [], "naive": [], "variants": {}}
    for i in range(repeat):
        say(f"  [{size.name}] repetition {i + 1}/{repeat}: floor ...")
        result["floor"].append(floor(shop_url, size.database, statements))
        say(f"  [{size.name}] repetition {i + 1}/{repeat}: shopcrm run ...")
        result["run"].append(in_child("run", shop_url, crm_url))
        for name, (shop, crm) in (variants(shop_url, crm_url).items() if others else ()):
            say(f"  [{size.name}] repetition {i + 1}/{repeat}: shopcrm run, {name} ...")
            result["variants"].setdefault(name, []).append(in_child("run", shop, crm))
        if naive:
            say(f"  [{size.name}] repetition {i + 1}/{repeat}: naive pipeline ...")
            result["naive"].append(in_child("naive", shop_url, str(result["run"][-1]["segments"])))
    result["a"] = median([f["seconds"] for f in result["floor"]])
    result["a_count_wrapped"] = median([f["count_wrapped"] for f in result["floor"]])
    result["a_c_client"] = median([f["c_client"] for f in result["floor"]])
    result["b"] = median([r["seconds"] for r in result["run"]])
    result["b_rss"] = max(r["peak_rss_mb"] for r in result["run"])
    result["b_stages"] = {k: median([r["timings"][k] for r in result["run"]]) for k in result["run"][0]["timings"]}
    lifetime = [{k: v for k, v in r["timings"].items() if k.startswith("mine.lifetime.")} for r in result["run"]]
    result["b_fit"] = median([t.get("mine.lifetime.fit", float("nan")) for t in lifetime])
    result["b_lifetime"] = median([sum(t.values()) for t in lifetime])
    result["b_lifetime_steps"] = {k: median([t.get(k, 0.0) for t in lifetime]) for k in lifetime[0]}
    result["variant_b"] = {name: {"b": median([r["seconds"] for r in runs]),
                                  "rss": max(r["peak_rss_mb"] for r in runs)}
                           for name, runs in result["variants"].items()}
    if naive:
        result["c"] = median([r["seconds"] for r in result["naive"]])
        result["c_rss"] = max(r["peak_rss_mb"] for r in result["naive"])
    return result


def without_index(server: str, size: shops.ShopSize, repeat: int, say) -> dict:
    """The same floor and run after dropping the views' covering index (restored afterwards)."""
    engine = sa.create_engine(shops.server_url(server, size.database))
    say(f"  [{size.name}] dropping {VIEW_INDEX} to measure a shop without it ...")
    with engine.begin() as conn:
        conn.exec_driver_sql(f"ALTER TABLE product_views DROP INDEX {VIEW_INDEX}")
    try:
        result = measure(server, size, repeat, naive=False, say=say)
        result["advice"] = missing_advice(shops.server_url(server, size.database))
        return result
    finally:
        say(f"  [{size.name}] restoring {VIEW_INDEX} ...")
        with engine.begin() as conn:
            conn.exec_driver_sql(f"ALTER TABLE product_views ADD INDEX {VIEW_INDEX} (customer_id, product_id, viewed_at)")
        engine.dispose()


def missing_advice(shop_url: str) -> list[str]:
    """What shopcrm says about the shop's indexes (the advice a shop admin would get)."""
    from shopcrm.shop.presets import preset
    from shopcrm.shop.readers import missing_indexes

    engine = sa.create_engine(shop_url)
    with engine.connect() as conn:
        missing = missing_indexes(conn, preset("generic"))
    engine.dispose()
    return [f"add an index on {m['table']} ({', '.join(m['columns'])}): {m['why']}" for m in missing]


def report(results: dict) -> str:
    lines = [f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, "
             f"{results['machine']['memory_gb']} GB; MariaDB {results['machine']['mariadb']} "
             f"(buffer pool {results['machine']['innodb_buffer_pool_mb']} MB); Python {results['machine']['python']}",
             f"load average before: {results['load_before']}, after: {results['load_after']}; "
             f"medians of {results['repeat']} repetitions", ""]
    main = results["main"]
    c = main["counts"]
    lines.append(f"shop: {c['customers']:,} customers, {c['product_views']:,} views, {c['cart_items']:,} cart items, "
                 f"{c['orders']:,} orders, {c['order_lines']:,} order lines")
    lines.append(f"(a) floor, MariaDB alone:      {main['a']:7.2f} s  (COUNT(*)-wrapped {main['a_count_wrapped']:.2f} s, "
                 f"C client {main['a_c_client']:.2f} s)")
    stages = ", ".join(f"{k} {v:.2f}" for k, v in main["b_stages"].items() if "." not in k and k != "total")
    lines.append(f"(b) shopcrm run:               {main['b']:7.2f} s  peak RSS {main['b_rss']:.0f} MB  ({stages})")
    if "c" in main:
        lines.append(f"(c) naive pandas pipeline:     {main['c']:7.2f} s  peak RSS {main['c_rss']:.0f} MB")
    steps = ", ".join(f"{k.removeprefix('mine.lifetime.')} {v:.2f}" for k, v in main["b_lifetime_steps"].items())
    lines.append(f"    lifetime in (b): the models' fit {main['b_fit']:.3f} s (target < 1 s); all of it "
                 f"{main['b_lifetime']:.2f} s on the order thread, while the views stream ({steps})")
    lines.append(f"ratios: (b)/(a) = {main['b'] / main['a']:.2f} (target ≤ 2.0)"
                 + (f", (c)/(b) = {main['c'] / main['b']:.2f} (target ≥ 3)" if "c" in main else "")
                 + f", peak RSS of (b) {main['b_rss']:.0f} MB (target ≤ 500)")
    for name, v in main.get("variant_b", {}).items():
        lines.append(f"(b) with {name}: {v['b']:6.2f} s, peak RSS {v['rss']:.0f} MB, (b)/(a) = {v['b'] / main['a']:.2f}"
                     + (f", (c)/(b) = {main['c'] / v['b']:.2f}" if "c" in main else ""))
    if results.get("no_index"):
        n = results["no_index"]
        lines.append(f"without the views' covering index: (a) {n['a']:.2f} s, (b) {n['b']:.2f} s, "
                     f"(b)/(a) = {n['b'] / n['a']:.2f}, peak RSS {n['b_rss']:.0f} MB")
        lines.extend(f"  advice: {a}" for a in n.get("advice", []))
    if results.get("scaling"):
        lines.append("")
        lines.append("scaling (customers: views | (a) floor | (b) run | peak RSS of (b) | (c) naive):")
        for s in results["scaling"]:
            naive_part = f" | {s['c']:.1f} s, {s['c_rss']:.0f} MB" if "c" in s else " | not run"
            lines.append(f"  {s['counts']['customers']:>9,}: {s['counts']['product_views']:>11,} | {s['a']:6.2f} s | "
                         f"{s['b']:6.2f} s | {s['b_rss']:5.0f} MB{naive_part}")
        lines.append(f"  (the 1M shop has {shops.SIZES['1m'].views_per_customer:g} views per customer instead of "
                     f"{shops.SIZES['100k'].views_per_customer:g}: 10M views, not 50M)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=os.environ.get("SHOPCRM_BENCH_SERVER", DEFAULT_SERVER),
                        help="MariaDB server URL without a database (needs rights to create databases)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-naive", action="store_true", help="skip (c)")
    parser.add_argument("--no-index-case", action="store_true", help="skip the run without the views' index")
    parser.add_argument("--no-variants", action="store_true",
                        help="skip the runs with bulk loading and with mysqlclient (when installed)")
    parser.add_argument("--scaling", action="store_true", help="add the 10k and 1M shops (the 1M build takes minutes)")
    parser.add_argument("--naive-at-1m", action="store_true", help="also run (c) on the 1M shop (slow, several GB)")
    parser.add_argument("--drop", action="store_true", help="drop every benchmark database and exit")
    parser.add_argument("--crm-database", help="the prefix of shopcrm's own benchmark databases (default "
                                               "shopcrm_bench_crm; SHOPCRM_BENCH_CRM_DATABASE): a branch with its own "
                                               "migrations on a shared server uses its own, leaving the others' alone")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    global CRM_DATABASE
    if args.crm_database:
        CRM_DATABASE = args.crm_database
    if args.child:
        kind, *rest = args.child
        result = child_run(*rest) if kind == "run" else child_naive(rest[0], int(rest[1]))
        print(json.dumps(result, default=str))
        return 0
    if args.drop:
        shops.drop_all(args.server)
        return 0

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results: dict = {"machine": machine(args.server), "load_before": load(), "repeat": args.repeat,
                     "started": datetime.now().isoformat(timespec="seconds")}
    results["main"] = measure(args.server, shops.SIZES["100k"], args.repeat, not args.no_naive, say,
                              others=not args.no_variants)
    if not args.no_index_case:
        results["no_index"] = without_index(args.server, shops.SIZES["100k"], max(1, args.repeat - 1), say)
    if args.scaling:
        results["scaling"] = [
            measure(args.server, shops.SIZES["10k"], args.repeat, not args.no_naive, say),
            results["main"],
            measure(args.server, shops.SIZES["1m"], max(1, args.repeat - 2), args.naive_at_1m, say),
        ]
    results["load_after"] = load()
    text = report(results)
    print(text)
    out = HERE / ".cache" / f"segmentation-{results['started'].replace(':', '')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    say(f"\nfull results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
