; Go tags for ctxeng (see extractors/README.md for the capture conventions).
; A declaration with a single spec (`type T struct{...}`) is captured whole so that its signature
; starts with the keyword; specs inside a group (`type ( ... )`) are captured on their own.

(function_declaration name: (identifier) @name) @definition.function

; Methods are qualified by their receiver's type: `func (r *Result) Rate()` is `Result.Rate`.
(method_declaration
  receiver: (parameter_list
    (parameter_declaration
      type: [(type_identifier) @receiver
             (pointer_type (type_identifier) @receiver)
             (generic_type type: (type_identifier) @receiver)
             (pointer_type (generic_type type: (type_identifier) @receiver))]))
  name: (field_identifier) @name) @definition.method

; Types: structs, interfaces, other types and aliases.
(type_declaration . (type_spec name: (type_identifier) @name type: (struct_type)) .) @definition.struct
(type_declaration . (type_spec name: (type_identifier) @name type: (interface_type)) .) @definition.interface
(type_declaration . [(type_spec name: (type_identifier) @name) (type_alias name: (type_identifier) @name)] .) @definition.type
(type_spec name: (type_identifier) @name type: (struct_type)) @definition.struct
(type_spec name: (type_identifier) @name type: (interface_type)) @definition.interface
[(type_spec name: (type_identifier) @name) (type_alias name: (type_identifier) @name)] @definition.type

; Struct fields and interface methods.
(field_declaration_list (field_declaration name: (field_identifier) @name) @definition.field)
(interface_type (method_elem name: (field_identifier) @name) @definition.method)

; Package-level constants and variables.
(source_file (const_declaration . (const_spec name: (identifier) @name) .) @definition.constant)
(source_file (const_declaration (const_spec name: (identifier) @name) @definition.constant))
(source_file (var_declaration . (var_spec name: (identifier) @name) .) @definition.variable)
(source_file (var_declaration (var_spec name: (identifier) @name) @definition.variable))

; Imports.
(import_spec path: (interpreted_string_literal (interpreted_string_literal_content) @reference.import))

; References: calls, composite literals and types.
(call_expression
  function: [(identifier) @name (selector_expression field: (field_identifier) @name)]) @reference.call
(composite_literal type: [(type_identifier) @name (qualified_type name: (type_identifier) @name)]) @reference.type
(parameter_declaration type: [(type_identifier) @name (qualified_type name: (type_identifier) @name)]) @reference.type
(pointer_type [(type_identifier) @name (qualified_type name: (type_identifier) @name)]) @reference.type
(_ result: [(type_identifier) @name (qualified_type name: (type_identifier) @name)]) @reference.type
(field_declaration type: [(type_identifier) @name (qualified_type name: (type_identifier) @name)]) @reference.type
(type_elem [(type_identifier) @name (qualified_type name: (type_identifier) @name)]) @reference.type
