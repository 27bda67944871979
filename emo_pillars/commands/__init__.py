"""The ``emo-pillars`` command line: one module per command; nothing in the library imports this package."""
