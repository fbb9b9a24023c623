"""SIP and GSM trunks: outbound routes, caller-ID rules, health, toll-fraud limits (pure)."""
