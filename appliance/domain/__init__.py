"""Pure domain logic: no I/O, no pjsua2, no sockets, no database."""
