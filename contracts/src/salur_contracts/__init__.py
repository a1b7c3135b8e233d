"""Salur."""
