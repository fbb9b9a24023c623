"""The one error the SMS codec raises for bad input."""


class PduError(ValueError):
    """A PDU, address, text or parameter the codec cannot accept; nothing was changed."""
