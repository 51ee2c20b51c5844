/// A job spec, flag or request body that cannot be accepted, naming the field at fault.
public struct SpecError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Dotted path of the field (`resources.memory`, `command[2]`), or `(top level)`.
    public var field: String
    public var message: String

    public init(field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}
