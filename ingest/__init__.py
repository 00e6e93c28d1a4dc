"""Ingest: load -> clean -> split -> dedupe -> store the help pages."""
