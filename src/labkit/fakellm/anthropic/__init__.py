"""The Anthropic wire protocol: Messages (plain and named-event streaming), count_tokens, models.

- :mod:`.request` — the headers and the body, including the pairing rules between ``tool_use``
  and ``tool_result`` blocks, with Anthropic's dotted field names (``messages.1.content.0``);
- :mod:`.response` — the ``message`` object, its event stream, the model list;
- :mod:`.errors` — ``{"type": "error", "error": {...}}`` bodies and the mid-stream error event.
"""
