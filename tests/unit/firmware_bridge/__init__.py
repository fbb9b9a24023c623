"""Unit tests for firmware_bridge."""
