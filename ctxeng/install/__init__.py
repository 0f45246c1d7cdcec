"""What `ctxeng install` / `uninstall` can add to a repository: one module, one function pair per target."""
