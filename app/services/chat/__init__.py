"""Chat over the merchant's catalog (DESIGN §9), one module per step:

- `text`: words of a question, stop words, the light stemming and synonyms search uses.
- `hints`: price / brand / category / stock hints parsed from the question when obvious.
- `vocabulary`: the merchant's brands and categories (cached), which `hints` matches against.
- `retrieval`: full-text search over the catalog's index (FTS5 or tsvector), in-stock first.
- `answers/`: answer providers — `extractive` (offline, grounded) and `openai` (any
  OpenAI-compatible API, with timeout and fallback to `extractive`), plain or streamed.
- `providers`: the provider the settings choose, with its pooled HTTP client.
- `sessions`: chat sessions and their messages in the database.
- `exchange`: one question → stored message, retrieval, answer, stored reply (JSON or SSE).
"""
