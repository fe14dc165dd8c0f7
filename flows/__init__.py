"""Prefect flows over the glassworks pipeline (the only package that imports prefect)."""
