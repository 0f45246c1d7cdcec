; JavaScript tags for ctxeng (see extractors/README.md for the capture conventions).
; Exported declarations are captured on their `export` statement so that span and signature include it.

; Functions and classes.
(export_statement
  declaration: [(function_declaration name: (identifier) @name @export)
                (generator_function_declaration name: (identifier) @name @export)]) @definition.function
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function

(export_statement
  declaration: (class_declaration name: (identifier) @name @export)) @definition.class
(class_declaration name: (identifier) @name) @definition.class

; Class members.
(method_definition name: [(property_identifier) (private_property_identifier)] @name) @definition.method
(field_definition property: [(property_identifier) (private_property_identifier)] @name) @definition.field

; Functions bound to names at the top level: `const f = () => ...`, `let g = function () {...}`.
(export_statement
  declaration: [(lexical_declaration (variable_declarator
                   name: (identifier) @name @export
                   value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)
                           (generator_function body: (_) @body)]))
                (variable_declaration (variable_declarator
                   name: (identifier) @name @export
                   value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)
                           (generator_function body: (_) @body)]))]) @definition.function
(program
  [(lexical_declaration (variable_declarator
     name: (identifier) @name
     value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)
             (generator_function body: (_) @body)]))
   (variable_declaration (variable_declarator
     name: (identifier) @name
     value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)
             (generator_function body: (_) @body)]))] @definition.function)

; Top-level UPPER_CASE constants.
((export_statement
  declaration: (lexical_declaration (variable_declarator name: (identifier) @name @export))) @definition.constant
  (#match? @name "^[A-Z][A-Z0-9_]*$"))
((program (lexical_declaration (variable_declarator name: (identifier) @name)) @definition.constant)
  (#match? @name "^[A-Z][A-Z0-9_]*$"))

; Exports by name: `export {a, b as c}`, `export default a`, `module.exports = {a, b}`, `exports.a = ...`.
(export_statement (export_clause (export_specifier name: (identifier) @export)))
(export_statement value: (identifier) @export)
(assignment_expression
  left: (member_expression object: (identifier) @_m property: (property_identifier) @_e)
  right: [(identifier) @export
          (object [(shorthand_property_identifier) @export
                   (pair key: (property_identifier) @export)])]
  (#eq? @_m "module") (#eq? @_e "exports"))
(assignment_expression
  left: (member_expression
    object: [(identifier) @_e (member_expression object: (identifier) @_m property: (property_identifier) @_e)]
    property: (property_identifier) @export)
  (#eq? @_e "exports"))

; Imports: `import ... from "m"`, `export ... from "m"`, `require("m")`.
(import_statement source: (string (string_fragment) @reference.import))
(export_statement source: (string (string_fragment) @reference.import))
(call_expression
  function: (identifier) @_require
  arguments: (arguments . (string (string_fragment) @reference.import))
  (#eq? @_require "require"))

; References: calls, `new`, and base classes.
(call_expression
  function: [(identifier) @name
             (member_expression property: [(property_identifier) (private_property_identifier)] @name)]) @reference.call
(new_expression constructor: [(identifier) @name (member_expression property: (property_identifier) @name)]) @reference.class
(class_heritage [(identifier) @name (member_expression property: (property_identifier) @name)]) @reference.class

; JSX: a capitalised element name is a component reference (lower-case ones are HTML tags).
((jsx_opening_element name: [(identifier) @name (member_expression property: (property_identifier) @name)]) @reference.call
  (#match? @name "^[A-Z]"))
((jsx_self_closing_element name: [(identifier) @name (member_expression property: (property_identifier) @name)]) @reference.call
  (#match? @name "^[A-Z]"))
