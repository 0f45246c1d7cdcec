; C# tags for ctxeng (see extractors/README.md for the capture conventions).
; A `public` modifier makes a definition public; interface members are public without one.
; Patterns that see `public` come first, so they win over the plain ones for the same name.

; Namespaces.
(namespace_declaration name: (_) @name) @definition.namespace
(file_scoped_namespace_declaration name: (_) @name) @definition.namespace

; Types.
((class_declaration (modifier) @public name: (identifier) @name) @definition.class (#eq? @public "public"))
(class_declaration name: (identifier) @name) @definition.class
((record_declaration (modifier) @public name: (identifier) @name) @definition.class (#eq? @public "public"))
(record_declaration name: (identifier) @name) @definition.class
((struct_declaration (modifier) @public name: (identifier) @name) @definition.struct (#eq? @public "public"))
(struct_declaration name: (identifier) @name) @definition.struct
((interface_declaration (modifier) @public name: (identifier) @name) @definition.interface (#eq? @public "public"))
(interface_declaration name: (identifier) @name) @definition.interface
((enum_declaration (modifier) @public name: (identifier) @name) @definition.enum (#eq? @public "public"))
(enum_declaration name: (identifier) @name) @definition.enum
((delegate_declaration (modifier) @public name: (identifier) @name) @definition.type (#eq? @public "public"))
(delegate_declaration name: (identifier) @name) @definition.type

; Methods, constructors, properties, fields and events.
((method_declaration (modifier) @public name: (identifier) @name) @definition.method (#eq? @public "public"))
(method_declaration name: (identifier) @name) @definition.method
((constructor_declaration (modifier) @public name: (identifier) @name) @definition.method (#eq? @public "public"))
(constructor_declaration name: (identifier) @name) @definition.method
((property_declaration (modifier) @public name: (identifier) @name) @definition.field (#eq? @public "public"))
(property_declaration name: (identifier) @name) @definition.field
((field_declaration (modifier) @public (variable_declaration (variable_declarator name: (identifier) @name))) @definition.field
  (#eq? @public "public"))
(field_declaration (variable_declaration (variable_declarator name: (identifier) @name))) @definition.field
((event_field_declaration (modifier) @public (variable_declaration (variable_declarator name: (identifier) @name))) @definition.field
  (#eq? @public "public"))
(event_field_declaration (variable_declaration (variable_declarator name: (identifier) @name))) @definition.field

; Imports: `using A.B;` and `using X = A.B;`.
(using_directive [(identifier) (qualified_name)] @reference.import .)

; References: calls, `new`, base types and declared types.
(invocation_expression
  function: [(identifier) @name
             (member_access_expression name: (identifier) @name)
             (generic_name (identifier) @name)
             (member_access_expression name: (generic_name (identifier) @name))]) @reference.call
(object_creation_expression type: [(identifier) @name (generic_name (identifier) @name)
                                   (qualified_name name: (identifier) @name)]) @reference.class
(base_list [(identifier) @name (generic_name (identifier) @name) (qualified_name name: (identifier) @name)]) @reference.type
(_ type: [(identifier) @name (generic_name (identifier) @name) (qualified_name name: (identifier) @name)]) @reference.type
(_ returns: [(identifier) @name (generic_name (identifier) @name) (qualified_name name: (identifier) @name)]) @reference.type
(attribute name: (identifier) @name) @reference.call
