"""Salur partnerships: proposals, agreements, tranches and realisation reports."""
