"""Loyalty points at the store (issue #21, docs/loyalty.md)."""
