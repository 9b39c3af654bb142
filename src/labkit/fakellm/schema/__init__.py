"""Structured output, in one place: how the fake answers a request that wants JSON.

- :mod:`.filler` — :class:`~.filler.SchemaFiller`, the behaviour: when a request wants
  structure (a forced tool, ``json_schema``, ``json_object``) and what to fill it from;
- :mod:`.fill` — :func:`~.fill.fill_schema`, the engine: a value valid against a JSON Schema,
  its fields taken from the user's text (the rules are its module doc);
- :mod:`.scalars` — strings, numbers, booleans and enums; :mod:`.context` — what a fill reads;
- :mod:`.prompt` — JSON embedded in a prompt (schemas, examples), also read by the judges.
"""
