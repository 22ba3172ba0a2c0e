"""Helpers the test suite and the benchmarks share; the runtime never imports them."""
