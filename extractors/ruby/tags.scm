; Ruby tags for ctxeng (see extractors/README.md for the capture conventions).
; A bare `private` / `protected` makes the methods after it in the same body private, until a
; bare `public`; `private def x` is private too.

; Visibility sections.
((body_statement (identifier) @visibility.private) (#match? @visibility.private "^(private|protected)$"))
((body_statement (identifier) @visibility.public) (#match? @visibility.public "^(public|module_function)$"))

; Methods; in a module they are methods (mixins), at the top level functions.
((call
  method: (identifier) @private
  arguments: (argument_list [(method name: (_) @name) (singleton_method name: (_) @name)])) @definition.method
  (#match? @private "^(private|protected|private_class_method)$"))
(module body: (body_statement (method name: (_) @name) @definition.method))
(method name: (_) @name) @definition.function
(singleton_method name: (_) @name) @definition.method

; Classes and modules (`class A::B` is `A.B`).
(class name: [(constant) (scope_resolution)] @name) @definition.class
(singleton_class value: (_) @name) @scope
(module name: [(constant) (scope_resolution)] @name) @definition.module

; Constants and attributes.
(assignment left: (constant) @name) @definition.constant
((call
  method: (identifier) @_attr
  arguments: (argument_list (simple_symbol) @name)) @definition.field
  (#match? @_attr "^attr_(reader|writer|accessor)$"))

; Imports.
((call
  method: (identifier) @_require
  arguments: (argument_list . (string (string_content) @reference.import)))
  (#match? @_require "^(require|require_relative|load|autoload)$"))

; References: calls with a receiver or arguments, superclasses, mixins and constants used as receivers.
((call method: (identifier) @name) @reference.call
  (#not-match? @name "^(require|require_relative|load|autoload|include|extend|prepend|attr_reader|attr_writer|attr_accessor|private|protected|public|private_class_method|public_class_method|module_function|private_constant)$"))
(superclass [(constant) @name (scope_resolution name: (constant) @name)]) @reference.class
((call method: (identifier) @_mixin arguments: (argument_list [(constant) @name (scope_resolution name: (constant) @name)])) @reference.type
  (#match? @_mixin "^(include|extend|prepend)$"))
(call receiver: [(constant) @name (scope_resolution name: (constant) @name)]) @reference.type
