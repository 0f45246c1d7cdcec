"""The pipelines that produce `.ctxeng/`: a full build, the incremental refresh, and staleness status."""
