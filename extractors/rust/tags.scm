; Rust tags for ctxeng (see extractors/README.md for the capture conventions).
; A bare `pub` makes a definition public (`pub(crate)` does not: it is no public API). Patterns
; that see `pub` come first, so they win over the plain ones for the same name.

; Functions (methods inside `impl` and `trait`).
((function_item (visibility_modifier) @public name: (identifier) @name) @definition.function
  (#eq? @public "pub"))
(function_item name: (identifier) @name) @definition.function
(function_signature_item name: (identifier) @name) @definition.function

; Types.
((struct_item (visibility_modifier) @public name: (type_identifier) @name) @definition.struct (#eq? @public "pub"))
(struct_item name: (type_identifier) @name) @definition.struct
((union_item (visibility_modifier) @public name: (type_identifier) @name) @definition.struct (#eq? @public "pub"))
(union_item name: (type_identifier) @name) @definition.struct
((enum_item (visibility_modifier) @public name: (type_identifier) @name) @definition.enum (#eq? @public "pub"))
(enum_item name: (type_identifier) @name) @definition.enum
((trait_item (visibility_modifier) @public name: (type_identifier) @name) @definition.trait (#eq? @public "pub"))
(trait_item name: (type_identifier) @name) @definition.trait
((type_item (visibility_modifier) @public name: (type_identifier) @name) @definition.type (#eq? @public "pub"))
(type_item name: (type_identifier) @name) @definition.type

; Struct fields.
((field_declaration (visibility_modifier) @public name: (field_identifier) @name) @definition.field
  (#eq? @public "pub"))
(field_declaration name: (field_identifier) @name) @definition.field

; Constants, statics, modules, macros.
((const_item (visibility_modifier) @public name: (identifier) @name) @definition.constant (#eq? @public "pub"))
(const_item name: (identifier) @name) @definition.constant
((static_item (visibility_modifier) @public name: (identifier) @name) @definition.constant (#eq? @public "pub"))
(static_item name: (identifier) @name) @definition.constant
((mod_item (visibility_modifier) @public name: (identifier) @name) @definition.module (#eq? @public "pub"))
(mod_item name: (identifier) @name) @definition.module
((attribute_item (attribute (identifier) @public)) . (macro_definition name: (identifier) @name) @definition.macro
  (#eq? @public "macro_export"))
(macro_definition name: (identifier) @name) @definition.macro

; `impl Foo { fn bar }` names `Foo.bar`; the members of a trait impl are as public as the trait.
(impl_item
  trait: (_)
  type: [(type_identifier) @name (generic_type type: (type_identifier) @name)
         (scoped_type_identifier name: (type_identifier) @name)]) @scope @public
(impl_item
  type: [(type_identifier) @name (generic_type type: (type_identifier) @name)
         (scoped_type_identifier name: (type_identifier) @name)]) @scope

; Imports: the path a `use` names (a `use a::{b, c}` list by its common prefix).
(use_declaration argument: [(identifier) (scoped_identifier)] @reference.import)
(use_declaration argument: (scoped_use_list path: (_) @reference.import))
(use_declaration argument: (use_as_clause path: (_) @reference.import))
(use_declaration argument: (use_wildcard . (_) @reference.import))
(extern_crate_declaration name: (identifier) @reference.import)

; References: calls, macro invocations, struct literals, types and implemented traits.
(call_expression
  function: [(identifier) @name
             (field_expression field: (field_identifier) @name)
             (scoped_identifier name: (identifier) @name)
             (generic_function function: [(identifier) @name (scoped_identifier name: (identifier) @name)])]) @reference.call
(macro_invocation macro: [(identifier) @name (scoped_identifier name: (identifier) @name)]) @reference.call
(struct_expression name: [(type_identifier) @name (scoped_type_identifier name: (type_identifier) @name)]) @reference.type
(impl_item trait: [(type_identifier) @name (generic_type type: (type_identifier) @name)]) @reference.type
(_ type: [(type_identifier) @name (generic_type type: (type_identifier) @name)
          (scoped_type_identifier name: (type_identifier) @name)]) @reference.type
(_ return_type: [(type_identifier) @name (generic_type type: (type_identifier) @name)
                 (scoped_type_identifier name: (type_identifier) @name)]) @reference.type
(type_arguments [(type_identifier) @name (generic_type type: (type_identifier) @name)]) @reference.type

; Attributes may stand between a doc comment and its definition.
(attribute_item) @attribute
