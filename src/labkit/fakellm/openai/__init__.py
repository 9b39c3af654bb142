"""The OpenAI wire protocol: Chat Completions, Responses, embeddings, models, errors.

Parsers turn a JSON body into a :class:`~labkit.fakellm.types.ChatRequest` (or raise
RequestError naming the field the way the real API does: ``messages[2].tool_call_id``);
renderers turn a settled :class:`~labkit.fakellm.completion.Completion` into a
``chat.completion`` / ``response`` body or into SSE frames. Shapes were checked against the
openai SDK's own pydantic types (see tests/fakellm). One module per endpoint:

- :mod:`.params` — request parsing shared by the endpoints (content, sampling, model, schemas);
- :mod:`.chat` — Chat Completions: parsing, the ``chat.completion`` body, its SSE chunks;
- :mod:`.responses` — the Responses API: parsing and the ``response`` body;
  :mod:`.responses_stream` — its named SSE events;
- :mod:`.embeddings` — embeddings and the model list;
- :mod:`.errors` — error bodies and mid-stream error frames.
"""
