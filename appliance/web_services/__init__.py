"""Services behind the local web UI: users, sessions, audit, directory admin, reports."""
