"""Salur audit: a tamper-evident ledger of every integration event, and the auditor's replay."""
