"""The policy engine: declarative rules in ``policies/*.toml`` turned into decisions.

Everything in this package is pure: data in, a
:class:`~server.policy.decision.Decision` out. No I/O except
:func:`server.policy.loader.load_dir`, no wall clock (``now`` comes in the request),
no database.
"""
