"""IVR: menus from configuration and business-hours calendars (pure, no I/O)."""
