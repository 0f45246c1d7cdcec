"""History mining: commits and changed files (`log`), bounded patches (`patches`, `parse`, `paths`), the stage that turns them into records (`stage`)."""
