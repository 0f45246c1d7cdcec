; C tags for ctxeng (see extractors/README.md for the capture conventions).
; `static` makes a definition private; only a header's names are exported.

; Functions, by name through any number of pointer declarators; prototypes are definitions too
; (a prototype is dropped when the same file also defines the function).
((function_definition
  (storage_class_specifier) @private
  declarator: [(function_declarator declarator: (identifier) @name)
               (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
               (pointer_declarator declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name)))]) @definition.function
  (#eq? @private "static"))
(function_definition
  declarator: [(function_declarator declarator: (identifier) @name)
               (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
               (pointer_declarator declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name)))]) @definition.function
((declaration
  (storage_class_specifier) @private
  declarator: [(function_declarator declarator: (identifier) @name)
               (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))]) @definition.function
  (#eq? @private "static"))
(declaration
  declarator: [(function_declarator declarator: (identifier) @name)
               (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))]) @definition.function

; Structs, unions and enums; a typedef'd one is named by its typedef (its tag is ignored).
(type_definition
  type: (struct_specifier name: (type_identifier)? @ignore body: (_))
  declarator: (type_identifier) @name) @definition.struct
(type_definition
  type: (union_specifier name: (type_identifier)? @ignore body: (_))
  declarator: (type_identifier) @name) @definition.struct
(type_definition
  type: (enum_specifier name: (type_identifier)? @ignore body: (_))
  declarator: (type_identifier) @name) @definition.enum
(struct_specifier name: (type_identifier) @name body: (_)) @definition.struct
(union_specifier name: (type_identifier) @name body: (_)) @definition.struct
(enum_specifier name: (type_identifier) @name body: (_)) @definition.enum

; Other typedefs, function pointer types included.
(type_definition declarator: (type_identifier) @name) @definition.type
(type_definition
  declarator: (function_declarator
    declarator: (parenthesized_declarator (pointer_declarator declarator: (type_identifier) @name)))) @definition.type
(type_definition declarator: (pointer_declarator declarator: (type_identifier) @name)) @definition.type

; Struct fields.
(field_declaration_list
  (field_declaration declarator: [(field_identifier) @name
                                  (pointer_declarator declarator: (field_identifier) @name)
                                  (array_declarator declarator: (field_identifier) @name)]) @definition.field)

; Macros with a value (an include guard's bare `#define` is none).
(preproc_def name: (identifier) @name value: (_)) @definition.macro
(preproc_function_def name: (identifier) @name) @definition.macro

; File-scope variables (also inside #if / #ifdef blocks); `static` ones first.
((translation_unit (declaration (storage_class_specifier) @private
   declarator: [(identifier) @name (_ declarator: (identifier) @name) (_ declarator: (_ declarator: (identifier) @name))]) @definition.variable)
  (#eq? @private "static"))
((preproc_ifdef (declaration (storage_class_specifier) @private
   declarator: [(identifier) @name (_ declarator: (identifier) @name) (_ declarator: (_ declarator: (identifier) @name))]) @definition.variable)
  (#eq? @private "static"))
((preproc_if (declaration (storage_class_specifier) @private
   declarator: [(identifier) @name (_ declarator: (identifier) @name) (_ declarator: (_ declarator: (identifier) @name))]) @definition.variable)
  (#eq? @private "static"))
(translation_unit (declaration
   declarator: [(identifier) @name (_ declarator: (identifier) @name) (_ declarator: (_ declarator: (identifier) @name))]) @definition.variable)
(preproc_ifdef (declaration
   declarator: [(identifier) @name (_ declarator: (identifier) @name) (_ declarator: (_ declarator: (identifier) @name))]) @definition.variable)
(preproc_if (declaration
   declarator: [(identifier) @name (_ declarator: (identifier) @name) (_ declarator: (_ declarator: (identifier) @name))]) @definition.variable)

; Includes.
(preproc_include path: [(string_literal (string_content) @reference.import) (system_lib_string) @reference.import])

; References: calls and type names.
(call_expression function: [(identifier) @name (field_expression field: (field_identifier) @name)]) @reference.call
(_ type: (type_identifier) @name) @reference.type
(_ type: [(struct_specifier name: (type_identifier) @name !body) (union_specifier name: (type_identifier) @name !body)
          (enum_specifier name: (type_identifier) @name !body)]) @reference.type
(sizeof_expression type: (type_descriptor type: (type_identifier) @name)) @reference.type
