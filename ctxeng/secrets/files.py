"""Files that are secrets as a whole: dropped by name before their content is ever read."""

from __future__ import annotations

import fnmatch
import functools
import posixpath
import re

# (rule id, glob on the basename). Examples and templates (`.env.example`) are deliberately kept:
# they document configuration and hold placeholders, not credentials.
SECRET_FILE_GLOBS: tuple[tuple[str, str], ...] = (
    ("dotenv", ".env"),
    ("dotenv", ".env.*"),
    ("dotenv", "*.env"),
    ("private-key-file", "*.pem"),
    ("private-key-file", "*.key"),
    ("private-key-file", "*.p12"),
    ("private-key-file", "*.pfx"),
    ("private-key-file", "*.jks"),
    ("private-key-file", "*.keystore"),
    ("private-key-file", "id_rsa*"),
    ("private-key-file", "id_dsa*"),
    ("private-key-file", "id_ecdsa*"),
    ("private-key-file", "id_ed25519*"),
    ("private-key-file", "*.ppk"),
    ("private-key-file", "*.asc"),
    ("credentials-file", ".npmrc"),
    ("credentials-file", ".pypirc"),
    ("credentials-file", ".netrc"),
    ("credentials-file", "_netrc"),
    ("credentials-file", ".git-credentials"),
    ("credentials-file", ".htpasswd"),
    ("credentials-file", ".pgpass"),
    ("credentials-file", ".dockercfg"),
    ("credentials-file", "credentials"),
    ("credentials-file", "credentials.json"),
    ("credentials-file", "client_secret*.json"),
    ("credentials-file", "service-account*.json"),
    ("credentials-file", "*.tfstate"),
    ("credentials-file", "*.tfstate.backup"),
    ("credentials-file", "*.tfvars"),
    ("credentials-file", "secrets.yml"),
    ("credentials-file", "secrets.yaml"),
    ("credentials-file", "secrets.json"),
    ("credentials-file", "*.kdbx"),
)

SAFE_SUFFIXES = (".example", ".sample", ".template", ".dist", ".tmpl", ".pub")
# Paths (not basenames) that hold credentials.
SECRET_PATH_GLOBS: tuple[tuple[str, str], ...] = (
    ("credentials-file", "*.docker/config.json"),
    ("credentials-file", "*.aws/credentials"),
    ("credentials-file", "*.kube/config"),
    ("credentials-file", "*.ssh/*"),
)


def secret_file_rule(path: str, extra_globs: tuple[str, ...] = ()) -> str | None:
    """The rule id when `path` names a file that is a secret as a whole, else None.

    `extra_globs` are user patterns (`[secrets] drop_files`), matched against the whole path and
    the basename.
    """
    base = posixpath.basename(path)
    lower = base.lower()
    if lower.endswith(SAFE_SUFFIXES) or ".example." in lower or ".sample." in lower:
        return None
    names, paths = _matchers()
    found = names.fullmatch(lower)
    if found is None:
        low_path = path.lower()
        found = paths.fullmatch(low_path) or paths.fullmatch("/" + low_path)
    if found is not None:
        return _RULE_OF_GROUP[found.lastgroup or ""]
    for pattern in extra_globs:
        if fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(base, pattern):
            return "configured-secret-file"
    return None


_RULE_OF_GROUP = {f"g{n}": rule for n, (rule, _) in enumerate((*SECRET_FILE_GLOBS, *SECRET_PATH_GLOBS))}


@functools.cache
def _matchers() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The basename globs and the path globs, each as one regex of named alternatives in the globs' order:
    `fullmatch` takes the first alternative that matches whole, as trying the globs one by one with
    `fnmatchcase` does (one match instead of ~40 per path: selection and history check every path)."""

    def union(globs: tuple[tuple[str, str], ...], first: int) -> re.Pattern[str]:
        parts = (f"(?P<g{first + n}>{fnmatch.translate(glob)})" for n, (_, glob) in enumerate(globs))
        return re.compile("|".join(parts))

    return union(SECRET_FILE_GLOBS, 0), union(SECRET_PATH_GLOBS, len(SECRET_FILE_GLOBS))
