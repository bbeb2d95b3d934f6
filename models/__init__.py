"""Shipped model artifacts, installed as the package data ``aebox_edge.models`` (see pyproject.toml)."""
