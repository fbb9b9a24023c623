"""Storage: SQLite through numbered migrations."""
