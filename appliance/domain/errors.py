"""Domain errors."""


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class IllegalTransition(DomainError):
    """A state machine was asked for a transition its table does not allow."""

    def __init__(self, machine: str, old: object, new: object) -> None:
        super().__init__(f"{machine}: illegal transition {old} -> {new}")
        self.old = old
        self.new = new
