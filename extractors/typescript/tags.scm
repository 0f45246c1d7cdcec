; TypeScript tags for ctxeng (see extractors/README.md for the capture conventions).
; extractors/tsx/tags.scm inherits these and adds JSX references.
; Exported declarations are captured on their `export` statement so that span and signature include it.

; Functions (overload signatures are dropped when the file also has the implementation).
(export_statement
  declaration: [(function_declaration name: (identifier) @name @export)
                (generator_function_declaration name: (identifier) @name @export)
                (function_signature name: (identifier) @name @export)]) @definition.function
(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function
(function_signature name: (identifier) @name) @definition.function

; Classes, interfaces, type aliases, enums, namespaces.
(export_statement
  declaration: [(class_declaration name: (type_identifier) @name @export)
                (abstract_class_declaration name: (type_identifier) @name @export)]) @definition.class
[(class_declaration name: (type_identifier) @name)
 (abstract_class_declaration name: (type_identifier) @name)] @definition.class
(export_statement declaration: (interface_declaration name: (type_identifier) @name @export)) @definition.interface
(interface_declaration name: (type_identifier) @name) @definition.interface
(export_statement declaration: (type_alias_declaration name: (type_identifier) @name @export)) @definition.type
(type_alias_declaration name: (type_identifier) @name) @definition.type
(export_statement declaration: (enum_declaration name: (identifier) @name @export)) @definition.enum
(enum_declaration name: (identifier) @name) @definition.enum
(export_statement declaration: (internal_module name: (_) @name @export)) @definition.namespace
(internal_module name: (_) @name) @definition.namespace
(module name: (_) @name) @definition.module

; Class and interface members; `private` / `protected` ones first so that they win.
((method_definition (accessibility_modifier) @private name: (_) @name) @definition.method
  (#match? @private "^(private|protected)$"))
((abstract_method_signature (accessibility_modifier) @private name: (_) @name) @definition.method
  (#match? @private "^(private|protected)$"))
((public_field_definition (accessibility_modifier) @private name: (_) @name) @definition.field
  (#match? @private "^(private|protected)$"))
(method_definition name: (_) @name) @definition.method
(abstract_method_signature name: (_) @name) @definition.method
(interface_body (method_signature name: (_) @name) @definition.method)
(public_field_definition name: (_) @name) @definition.field
(interface_body (property_signature name: (_) @name) @definition.field)

; Functions bound to names at the top level: `const f = () => ...`.
(export_statement
  declaration: [(lexical_declaration (variable_declarator
                   name: (identifier) @name @export
                   value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)]))
                (variable_declaration (variable_declarator
                   name: (identifier) @name @export
                   value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)]))]) @definition.function
(program
  [(lexical_declaration (variable_declarator
     name: (identifier) @name
     value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)]))
   (variable_declaration (variable_declarator
     name: (identifier) @name
     value: [(arrow_function body: (_) @body) (function_expression body: (_) @body)]))] @definition.function)

; Top-level UPPER_CASE constants.
((export_statement
  declaration: (lexical_declaration (variable_declarator name: (identifier) @name @export))) @definition.constant
  (#match? @name "^[A-Z][A-Z0-9_]*$"))
((program (lexical_declaration (variable_declarator name: (identifier) @name)) @definition.constant)
  (#match? @name "^[A-Z][A-Z0-9_]*$"))

; Exports by name: `export {a, b as c}`, `export default a`, `export = a`.
(export_statement (export_clause (export_specifier name: (identifier) @export)))
(export_statement value: (identifier) @export)

; Imports: `import ... from "m"`, `export ... from "m"`, `import x = require("m")`, `require("m")`.
(import_statement source: (string (string_fragment) @reference.import))
(export_statement source: (string (string_fragment) @reference.import))
(import_require_clause source: (string (string_fragment) @reference.import))
(call_expression
  function: (identifier) @_require
  arguments: (arguments . (string (string_fragment) @reference.import))
  (#eq? @_require "require"))

; References: calls, `new`, heritage and type annotations.
(call_expression
  function: [(identifier) @name
             (member_expression property: [(property_identifier) (private_property_identifier)] @name)]) @reference.call
(new_expression constructor: [(identifier) @name (member_expression property: (property_identifier) @name)]) @reference.class
(extends_clause value: [(identifier) @name (member_expression property: (property_identifier) @name)]) @reference.class
(implements_clause [(type_identifier) @name (generic_type name: (type_identifier) @name)]) @reference.type
(extends_type_clause type: [(type_identifier) @name (generic_type name: (type_identifier) @name)]) @reference.type
(type_annotation [(type_identifier) @name (generic_type name: (type_identifier) @name)]) @reference.type
(type_arguments [(type_identifier) @name (generic_type name: (type_identifier) @name)]) @reference.type

; Decorators may stand between a doc comment and the class member they decorate.
(class_body (decorator) @attribute)
