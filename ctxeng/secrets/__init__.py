"""The secret stage: redaction rules and file-level drops, applied before anything is written."""

from ctxeng.secrets.files import secret_file_rule

__all__ = ["secret_file_rule"]
