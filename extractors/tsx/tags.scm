; TSX tags for ctxeng (see extractors/README.md for the capture conventions): TypeScript's, plus JSX.
; inherits: typescript

; JSX: a capitalised element name is a component reference (lower-case ones are HTML tags).
((jsx_opening_element name: [(identifier) @name (member_expression property: (property_identifier) @name)]) @reference.call
  (#match? @name "^[A-Z]"))
((jsx_self_closing_element name: [(identifier) @name (member_expression property: (property_identifier) @name)]) @reference.call
  (#match? @name "^[A-Z]"))
