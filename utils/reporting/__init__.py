"""Reporting: the evaluation report, explanation reports, tables and figures (PNG files)."""
