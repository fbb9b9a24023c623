"""Routers per resource: API under /api/v1, pages at the root."""
