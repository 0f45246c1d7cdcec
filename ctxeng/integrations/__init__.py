"""What ctxeng wires into a repository and its tools: git hooks, Claude Code settings, hooks and skill, the MCP entry; each install has its exact uninstall."""
