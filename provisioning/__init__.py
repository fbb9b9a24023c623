"""Desk-phone auto-provisioning: vendor templates, config server, plug-and-play, lifecycle."""
