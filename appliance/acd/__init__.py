"""Contact-center core: agents, queues, strategies, callbacks, wait estimates and KPIs (pure, no I/O)."""
