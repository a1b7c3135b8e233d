"""Salur opportunities: funding opportunities partners offer, and their envelopes."""
