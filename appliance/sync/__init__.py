"""Cloud sync over MQTT: envelope, topics, durable outbox, sync client, config and commands."""
