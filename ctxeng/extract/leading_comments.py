"""Find the comments that document a definition (the block right above it) or a file (its header).

Works on comment positions collected by the tags query, never by walking the tree: asking a
tree-sitter node for its parent or sibling costs time proportional to its depth, which turns
deeply nested files quadratic.
"""

from __future__ import annotations

from dataclasses import dataclass

from ctxeng.extract.comment_text import clean_comments, is_directive, is_license


@dataclass(frozen=True, slots=True)
class Comment:
    """One comment node: byte range, first/last line (0-based), whether it starts its line, its text."""

    start: int
    end: int
    first_row: int
    last_row: int
    starts_line: bool
    text: str


class CommentIndex:
    """The comments of a file, looked up by the line they end on."""

    def __init__(self, comments: list[Comment], attributes: list[tuple[int, int]]) -> None:
        self.comments = sorted(comments, key=lambda c: c.start)
        self.by_last_row: dict[int, Comment] = {}
        for comment in self.comments:
            self.by_last_row[comment.last_row] = comment  # the last one on a line wins
        # Attribute lines (Rust `#[derive]`, TS decorators) may sit between a doc comment and its definition.
        self.attribute_rows: dict[int, int] = {}
        for first, last in attributes:
            self.attribute_rows[last] = min(first, self.attribute_rows.get(last, first))

    def above(self, start: int, row: int) -> tuple[str, int]:
        """The cleaned comment block right above a definition starting at byte `start` on line `row`,
        and the line (0-based) where that block starts (`row` when there is none)."""
        found: list[str] = []
        lead = row
        same_line = self.by_last_row.get(row)  # `/** doc */ function f() {}`
        if same_line is not None and same_line.end <= start and same_line.starts_line:
            found.append(same_line.text)
            lead = row = same_line.first_row
        while True:
            comment = self.by_last_row.get(row - 1)
            if comment is not None and comment.starts_line and not is_directive(comment.text):
                found.append(comment.text)
                lead = row = comment.first_row
                continue
            if not found and (row - 1) in self.attribute_rows:
                row = self.attribute_rows[row - 1]
                continue
            if not found and comment is not None and comment.starts_line:  # a directive (`/*#__PURE__*/`,
                row = comment.first_row  # `// eslint-disable-next-line`) between the doc and the definition
                continue
            break
        found.reverse()
        return (clean_comments(found) if found else ""), lead

    def file_header(self, first_code: int, first_row: int, first_is_def: bool, is_package: bool) -> str:
        """The file's header comment: the first block before the first code (at byte `first_code`,
        line `first_row`) that is no licence, directive or definition doc; a block right above a
        `package` clause is the package doc (Go, Java)."""
        blocks: list[list[Comment]] = []
        for comment in self.comments:
            if comment.start >= first_code:
                break
            if is_directive(comment.text):
                blocks.append([])
            elif blocks and blocks[-1] and blocks[-1][-1].last_row >= comment.first_row - 1:
                blocks[-1].append(comment)
            else:
                blocks.append([comment])
        blocks = [b for b in blocks if b]
        if not blocks:
            return ""
        attached = blocks[-1][-1].last_row >= first_row - 1
        if attached and is_package:
            text = clean_comments([c.text for c in blocks[-1]])
            return "" if is_license(text) else text
        if attached and first_is_def:
            blocks = blocks[:-1]  # that block documents the first definition
        for block in blocks:
            text = clean_comments([c.text for c in block])
            if text and not is_license(text):
                return text
        return ""
