; Python tags for ctxeng (see extractors/README.md for the capture conventions).

; Module docstring: the first statement of the file when it is a string (comments may precede it).
(module . (comment)* . (string) @doc)

; Classes and functions, decorated ones first so the span and signature include the decorators.
(decorated_definition
  definition: (class_definition
    name: (identifier) @name
    body: (block . (comment)* . (string)? @doc) @body)) @definition.class

(class_definition
  name: (identifier) @name
  body: (block . (comment)* . (string)? @doc) @body) @definition.class

(decorated_definition
  definition: (function_definition
    name: (identifier) @name
    body: (block . (comment)* . (string)? @doc) @body)) @definition.function

(function_definition
  name: (identifier) @name
  body: (block . (comment)* . (string)? @doc) @body) @definition.function

; Module-level constants (UPPER_CASE) and annotated class attributes (dataclass / pydantic fields).
((module
  (assignment left: (identifier) @name) @definition.constant)
  (#match? @name "^_*[A-Z][A-Z0-9_]*$"))

(class_definition
  body: (block
    (assignment left: (identifier) @name type: (_)) @definition.field))

; Type aliases: `type Alias = ...` (3.12) and `Alias: TypeAlias = ...`.
(type_alias_statement left: (type (identifier) @name)) @definition.type

; __all__ = ["a", "b"] / ("a", "b"): the module's declared public API.
(module
  (assignment
    left: (identifier) @_all
    right: [(list (string (string_content) @export)) (tuple (string (string_content) @export))])
  (#eq? @_all "__all__"))

; Imports: module names, and the names they bind (an __init__.py re-exports them).
(import_statement name: (dotted_name) @reference.import)
(import_statement name: (aliased_import name: (dotted_name) @reference.import))
(import_from_statement module_name: (_) @reference.import)
(import_from_statement name: (dotted_name . (identifier) @binding .))
(import_from_statement name: (aliased_import alias: (identifier) @binding))

; References: calls, base classes, decorators and type annotations.
(call function: [(identifier) @name (attribute attribute: (identifier) @name)]) @reference.call
(class_definition superclasses: (argument_list [(identifier) @name (attribute attribute: (identifier) @name)])) @reference.class
(decorator [(identifier) @name (attribute attribute: (identifier) @name)]) @reference.call
(type [(identifier) @name (generic_type (identifier) @name) (attribute attribute: (identifier) @name)]) @reference.type
