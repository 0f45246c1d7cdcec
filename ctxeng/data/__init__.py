"""Data shipped with ctxeng: the SmolLM2 BPE rank file that counts tokens offline."""
