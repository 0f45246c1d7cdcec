"""The supervised dataset: TRL conversational prompt-completion rows mined from the records.

Each row (one JSON object per line of `train.jsonl` / `eval.jsonl`, sorted by `id`) has exactly
the keys `id` (sha1 of task, source record id and variant), `task`, `prompt` (a system message,
the same in every row, and a user message), `completion` (one assistant message), `source` (the
record id), `commit` and `time` (the commit the example's knowledge dates from, after all
examples of one record are dated alike; "" and 0 = uncommitted), and `meta`, whose values are
strings with the same keys in every row ("" where a key does not apply):

- `path`: the file or document the example is about (commit tasks: the first changed file).
  (facts, grounded: the defining file; `symbol` the definition, `answer_path` = `expected` = its file.)
- `symbol`: the qualified name asked about (symbol_lookup, symbol_body), the called name
  (callers), the first listed definition (file_contents), the term (glossary).
- `answer_path`: a path a correct answer must name: the definition's file (symbol_lookup), the
  first caller's file (callers), the top partner (cochange), the cited document (doc_qa,
  glossary), the module itself (file_contents, module_overview, symbol_body).
- `expected`: a short string a correct answer contains, for probes: the signature
  (symbol_lookup), the first body line (symbol_body), the first listed name (file_contents), the
  docstring's first sentence (module_overview), the first caller (callers), the commit subject
  (commit_instruction, commit_message), the top partner (cochange), the section's or
  meaning's first sentence (doc_qa, glossary).

Tasks (each can be switched off with `dataset.tasks.<name> = false`): symbol_lookup,
file_contents, symbol_body, module_overview, callers, commit_instruction, commit_message,
cochange, doc_qa, glossary, facts (short facts in several phrasings, both directions) and
grounded (retrieved-style context → cited answer). The eval split holds whole commits, newest
first, of every task but facts and grounded, which describe HEAD and are always trained on (the
eval asks about them in phrasings reserved by `dataset.templates`); no train completion equals an
eval completion after `split.normalise`.
"""

from __future__ import annotations

from ctxeng.dataset.builder import DatasetResult, build_dataset, check_config, system_message
from ctxeng.dataset.tasks import TASKS

__all__ = ["TASKS", "DatasetResult", "build_dataset", "check_config", "system_message"]
