"""Vote counting."""

from tally.count import majority, tally_votes

__all__ = ["majority", "tally_votes"]
