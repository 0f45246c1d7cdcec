"""What `ctxeng install` / `uninstall` can add to a repository: one module and one function pair per target."""
