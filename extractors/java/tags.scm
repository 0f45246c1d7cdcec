; Java tags for ctxeng (see extractors/README.md for the capture conventions).
; A `public` modifier makes a definition public; interface members are public without one.
; Patterns that see `public` come first, so they win over the plain ones for the same name.

; Types.
(class_declaration (modifiers "public" @public) name: (identifier) @name) @definition.class
(class_declaration name: (identifier) @name) @definition.class
(record_declaration (modifiers "public" @public) name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(interface_declaration (modifiers "public" @public) name: (identifier) @name) @definition.interface
(interface_declaration name: (identifier) @name) @definition.interface
(annotation_type_declaration (modifiers "public" @public) name: (identifier) @name) @definition.interface
(annotation_type_declaration name: (identifier) @name) @definition.interface
(enum_declaration (modifiers "public" @public) name: (identifier) @name) @definition.enum
(enum_declaration name: (identifier) @name) @definition.enum

; Methods and constructors.
(method_declaration (modifiers "public" @public) name: (identifier) @name) @definition.method
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration (modifiers "public" @public) name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method

; Fields (one definition per declared name).
(field_declaration (modifiers "public" @public) declarator: (variable_declarator name: (identifier) @name)) @definition.field
(field_declaration declarator: (variable_declarator name: (identifier) @name)) @definition.field
(constant_declaration declarator: (variable_declarator name: (identifier) @name)) @definition.constant

; Imports.
(import_declaration [(identifier) (scoped_identifier)] @reference.import)

; References: calls, `new`, supertypes and types in declarations.
(method_invocation name: (identifier) @name) @reference.call
(object_creation_expression type: [(type_identifier) @name (generic_type (type_identifier) @name)
                                   (scoped_type_identifier (type_identifier) @name .)]) @reference.class
(superclass [(type_identifier) @name (generic_type (type_identifier) @name)]) @reference.class
(super_interfaces (type_list [(type_identifier) @name (generic_type (type_identifier) @name)])) @reference.type
(extends_interfaces (type_list [(type_identifier) @name (generic_type (type_identifier) @name)])) @reference.type
(_ type: [(type_identifier) @name (generic_type . (type_identifier) @name)]) @reference.type
(type_arguments [(type_identifier) @name (generic_type . (type_identifier) @name)]) @reference.type
(marker_annotation name: (identifier) @name) @reference.call
(annotation name: (identifier) @name) @reference.call
