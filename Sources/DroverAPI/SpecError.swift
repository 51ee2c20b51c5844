/// A job spec, flag or request body that cannot be accepted, naming the field at fault.
/// One error may carry the others found in the same input, so that a spec with three
/// mistakes is answered with all three rather than one round trip each.
public struct SpecError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Dotted path of the field (`resources.memory`, `command[2]`), or `(top level)`.
    public var field: String
    public var message: String
    /// Further errors found in the same input, in the order they were found.
    public var others: [SpecError] = []

    public init(field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    /// One error leading with the first of `errors` and carrying the rest; nil for none.
    public init?(all errors: [SpecError]) {
        guard let first = errors.first else { return nil }
        self.init(field: first.field, first.message)
        others = Array(errors.dropFirst())
    }

    /// This error and the others, each alone.
    public var all: [SpecError] { [SpecError(field: field, message)] + others }

    /// One line per error.
    public var description: String { all.map { "\($0.field): \($0.message)" }.joined(separator: "\n") }
}

/// Gathers the errors of a spec's fields as they are checked, so that all are reported at once.
struct SpecErrorCollector {
    private(set) var errors: [SpecError] = []

    mutating func add(_ error: SpecError) { errors.append(contentsOf: error.all) }

    /// The value `body` parses, or `fallback` (and the error noted) when it fails, so the
    /// checks after it still run.
    mutating func check<T>(or fallback: T, _ body: () throws(SpecError) -> T) -> T {
        do { return try body() } catch {
            add(error)
            return fallback
        }
    }

    /// Throws every error noted so far as one.
    func throwIfAny() throws(SpecError) {
        if let error = SpecError(all: errors) { throw error }
    }
}
