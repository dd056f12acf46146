"""Benchmarks that print figures next to their targets; ``bench/run_all.py`` runs them all (see RESULTS.md)."""
