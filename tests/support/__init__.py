"""Helpers the tests share: plain functions and classes, imported by tests and fixtures alike
(no test module imports another)."""
