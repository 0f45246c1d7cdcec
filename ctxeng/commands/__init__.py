"""One module per CLI command; each is thin and calls the library."""
