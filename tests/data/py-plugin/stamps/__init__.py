"""Tokens that expire."""


class Token:
    def __init__(self, value, issued_at, lifetime):
        self.value = value
        self.issued_at = issued_at
        self.lifetime = lifetime

    def expires_at(self):
        return self.issued_at + self.lifetime

    def is_valid(self, now):
        """Valid from issue up to, not including, its expiry."""
        return self.issued_at <= now < self.expires_at()


def issue(value, clock, lifetime=60):
    return Token(value, clock(), lifetime)


def remaining(token, clock):
    """Seconds left, never negative."""
    return max(0, token.expires_at() - clock())
