"""Local stand-ins for external services (loopback only), shared by tests and benchmarks."""
