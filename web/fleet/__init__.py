"""Fleet service: ingests every box's MQTT topics into a store and serves a dashboard."""
