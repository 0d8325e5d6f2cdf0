"""Quoting a value a user gave in a message about it: recognisable, never megabytes.

A manifest cell or a schedule field can be any size (a 10 MB prompt, a template that formats to
200 MB), and messages go to the terminal, logs and the rejects report. Every message that quotes
such a value quotes it through `quoted`, so no value can make a message long.
"""

#: How much of a value a message quotes: enough to recognise the row's value (a key, the start of
#: a prompt, a URL's host and path), short enough that a message stays one line.
QUOTED_CHARS = 60


def quoted(value: str, limit: int = QUOTED_CHARS) -> str:
    """`value` in quotes, as repr writes it (escapes shown), cut after `limit` characters with
    `…` when it is longer: `'a very long prompt …'`."""
    return repr(value[:limit] + "…") if len(value) > limit else repr(value)
