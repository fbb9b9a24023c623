"""AT command layer: a pure response parser and an asyncio channel over pyserial."""
