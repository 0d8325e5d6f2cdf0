"""How counts and joined messages read, in one place for every command and every recorded
reason: `1 job` and `2 jobs`, and `cause; advice` without a stray `.;` when a provider's message
ends with a full stop."""

#: what a clause may end with that reads wrong before the `; ` that joins it to the next
_TRAILING = " \t\r\n.;,"


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`1 job`, `0 jobs`, `1,200 jobs`: the count with its noun, singular only for one."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def clauses(*parts: str) -> str:
    """The parts joined with `; `, each without the full stop or separator it ended with (a
    provider's `...not valid.` then `fix it` reads `...not valid; fix it`); empty parts left out."""
    trimmed = (part.rstrip(_TRAILING) for part in parts)
    return "; ".join(part for part in trimmed if part)
