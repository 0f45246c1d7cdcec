; C++ tags for ctxeng (see extractors/README.md for the capture conventions).
; `static` makes a definition private and so does a `private:` / `protected:` section (a class
; body starts in one); an anonymous namespace is private. Only a header's names are exported.
; `Foo::bar` defined outside its class is the method `Foo.bar`.

; Visibility sections.
((field_declaration_list (access_specifier) @visibility.private) (#match? @visibility.private "private|protected"))
((field_declaration_list (access_specifier) @visibility.public) (#eq? @visibility.public "public"))
(class_specifier body: (field_declaration_list "{" @visibility.private))
(namespace_definition !name body: (declaration_list "{" @visibility.private))

; Functions and methods, templates first so that span and signature include `template <...>`.
(template_declaration
  (function_definition
    declarator: [(function_declarator declarator: (_) @name)
                 (pointer_declarator declarator: (function_declarator declarator: (_) @name))
                 (reference_declarator (function_declarator declarator: (_) @name))]
    body: (_) @body)) @definition.function
((function_definition
  (storage_class_specifier) @private
  declarator: [(function_declarator declarator: (_) @name)
               (pointer_declarator declarator: (function_declarator declarator: (_) @name))
               (reference_declarator (function_declarator declarator: (_) @name))]) @definition.function
  (#eq? @private "static"))
(function_definition
  declarator: [(function_declarator declarator: (_) @name)
               (pointer_declarator declarator: (function_declarator declarator: (_) @name))
               (reference_declarator (function_declarator declarator: (_) @name))]) @definition.function

; Declarations: prototypes and member functions declared in a class body.
(template_declaration
  [(declaration declarator: [(function_declarator declarator: (_) @name)
                             (pointer_declarator declarator: (function_declarator declarator: (_) @name))
                             (reference_declarator (function_declarator declarator: (_) @name))])
   (field_declaration declarator: [(function_declarator declarator: (_) @name)
                                   (pointer_declarator declarator: (function_declarator declarator: (_) @name))
                                   (reference_declarator (function_declarator declarator: (_) @name))])]) @definition.function
((declaration
  (storage_class_specifier) @private
  declarator: [(function_declarator declarator: (_) @name)
               (pointer_declarator declarator: (function_declarator declarator: (_) @name))]) @definition.function
  (#eq? @private "static"))
[(declaration declarator: [(function_declarator declarator: (_) @name)
                           (pointer_declarator declarator: (function_declarator declarator: (_) @name))
                           (reference_declarator (function_declarator declarator: (_) @name))])
 (field_declaration declarator: [(function_declarator declarator: (_) @name)
                                 (pointer_declarator declarator: (function_declarator declarator: (_) @name))
                                 (reference_declarator (function_declarator declarator: (_) @name))])] @definition.function

; Classes, structs, unions, enums (with a body); templates first.
(template_declaration (class_specifier name: (_) @name body: (_) @body)) @definition.class
(template_declaration (struct_specifier name: (_) @name body: (_) @body)) @definition.struct
(class_specifier name: (_) @name body: (_)) @definition.class
(type_definition
  type: (struct_specifier name: (type_identifier)? @ignore body: (_))
  declarator: (type_identifier) @name) @definition.struct
(struct_specifier name: (_) @name body: (_)) @definition.struct
(union_specifier name: (_) @name body: (_)) @definition.struct
(enum_specifier name: (_) @name body: (_)) @definition.enum

; Namespaces, type aliases, typedefs, concepts.
(namespace_definition name: (_) @name) @definition.namespace
(template_declaration (alias_declaration name: (type_identifier) @name)) @definition.type
(alias_declaration name: (type_identifier) @name) @definition.type
(type_definition declarator: (type_identifier) @name) @definition.type
(template_declaration (concept_definition name: (identifier) @name)) @definition.type

; Data members.
(field_declaration_list
  (field_declaration declarator: [(field_identifier) @name
                                  (pointer_declarator declarator: (field_identifier) @name)
                                  (reference_declarator (field_identifier) @name)
                                  (array_declarator declarator: (field_identifier) @name)]) @definition.field)

; Variables at file or namespace scope (`constexpr` constants included).
((translation_unit (declaration (storage_class_specifier) @private
   declarator: [(identifier) @name (init_declarator declarator: (identifier) @name)]) @definition.variable)
  (#eq? @private "static"))
(translation_unit (declaration
   declarator: [(identifier) @name (init_declarator declarator: (identifier) @name)]) @definition.variable)
(namespace_definition body: (declaration_list (declaration
   declarator: [(identifier) @name (init_declarator declarator: (identifier) @name)]) @definition.variable))

; Macros with a value.
(preproc_def name: (identifier) @name value: (_)) @definition.macro
(preproc_function_def name: (identifier) @name) @definition.macro

; Includes.
(preproc_include path: [(string_literal (string_content) @reference.import) (system_lib_string) @reference.import])

; References: calls, `new`, base classes and type names.
(call_expression
  function: [(identifier) @name
             (field_expression field: (field_identifier) @name)
             (qualified_identifier name: (identifier) @name)
             (template_function name: (identifier) @name)
             (qualified_identifier name: (template_function name: (identifier) @name))]) @reference.call
(new_expression type: [(type_identifier) @name (template_type name: (type_identifier) @name)]) @reference.class
(base_class_clause [(type_identifier) @name (template_type name: (type_identifier) @name)
                    (qualified_identifier name: (type_identifier) @name)]) @reference.class
(_ type: [(type_identifier) @name (template_type name: (type_identifier) @name)
          (qualified_identifier name: [(type_identifier) @name (template_type name: (type_identifier) @name)])]) @reference.type
