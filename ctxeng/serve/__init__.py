"""Using the adapters: `ctxeng serve` (the base model and adapters behind an OpenAI-compatible HTTP API),
`ctxeng ask` (one grounded question, `ask`) and `ctxeng export` (vLLM / Ollama configs, `export`).

Modules: `protocol` (request checks, response shapes), `engine` (model, adapters, queue, generation
thread), `app` (Starlette routes, SSE), `server` (uvicorn on a bound socket), `local` (finding and
calling a running server with the standard library, for hooks and `ctxeng ask`). Nothing heavy is
imported here: hooks import `ctxeng.serve.local` on every prompt.
"""
