"""Counting ballots."""


def tally_votes(ballots):
    """Votes per candidate, ignoring blank ballots."""
    counts = {}
    for ballot in ballots:
        if not ballot:
            continue
        counts[ballot] = counts.get(ballot, 0) + 1
    return counts


def majority(ballots):
    """The candidate with more than half of the non-blank votes, or None."""
    counts = tally_votes(ballots)
    cast = sum(counts.values())
    for candidate, votes in counts.items():
        if votes * 2 > cast:
            return candidate
    return None
