"""Salur planning: PJM Pronangkis plans, their activities and their channelling."""
