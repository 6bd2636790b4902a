"""One pure module per rule: ``evaluate(config, request, version) -> Decision | None``.

None means the rule has nothing to say about this action.
"""
