"""Promotions at the store's counter (issue #21): the table, the manager's page, and
what the till reads. The rules are the pure engine's (app/core/promotions.py)."""
