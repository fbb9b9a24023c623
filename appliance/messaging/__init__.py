"""SMS as a contact-center channel: pure rules (conversations, routing, opt-out, numbers)."""
