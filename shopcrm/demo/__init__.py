"""The demo shop: a realistic, deterministic shop in the generic schema, written for ``make demo``,
the tests and the benchmarks. It is the only part of shopcrm that writes shop tables, and only
into a database it is pointed at explicitly (never through the read-only shop connection)."""
