"""Infrastructure every stage shares: git access, repository view, records schema, config, errors, file I/O, tokens, caching, terminal output."""
