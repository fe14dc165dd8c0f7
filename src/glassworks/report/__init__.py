"""Explanation reports: HTML token highlights, matplotlib plots, tables."""
