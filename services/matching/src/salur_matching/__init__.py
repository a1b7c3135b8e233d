"""Salur matching: explained matches between plan activities and funding opportunities."""
