"""`ctxeng mcp`: the repository's context as MCP tools over stdio (symbols, related files, context, ask, …).

`tools` holds the tools as plain functions, `lookup` the record lookups behind them, `server` the
MCP SDK 2.x wiring. Nothing here imports the SDK until the server starts.
"""
