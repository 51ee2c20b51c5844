/// An amount of the three schedulable resources: CPU (millicores), memory (bytes), GPUs.
public struct Resources: Hashable, Sendable, Codable, CustomStringConvertible {
    public var millicores: Int64
    public var memoryBytes: Int64
    public var gpus: Int

    public init(millicores: Int64 = 0, memoryBytes: Int64 = 0, gpus: Int = 0) {
        self.millicores = millicores
        self.memoryBytes = memoryBytes
        self.gpus = gpus
    }

    public static let zero = Resources()

    /// True when every component of `self` is at most the same component of `other`.
    public func fits(in other: Resources) -> Bool {
        millicores <= other.millicores && memoryBytes <= other.memoryBytes && gpus <= other.gpus
    }

    public static func + (a: Resources, b: Resources) -> Resources {
        Resources(millicores: a.millicores + b.millicores, memoryBytes: a.memoryBytes + b.memoryBytes, gpus: a.gpus + b.gpus)
    }

    public static func - (a: Resources, b: Resources) -> Resources {
        Resources(millicores: a.millicores - b.millicores, memoryBytes: a.memoryBytes - b.memoryBytes, gpus: a.gpus - b.gpus)
    }

    public var description: String {
        "cpu \(Quantity.formatCPU(millicores)), memory \(Quantity.formatSize(memoryBytes)), gpu \(gpus)"
    }
}

/// A requirement on node labels: `key=value`, `key!=value` or `key in (a,b)`.
public struct Constraint: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Operator: String, Sendable { case equal = "=", notEqual = "!=", oneOf = " in " }
    public var key: String
    public var op: Operator
    public var value: String

    public init(key: String, op: Operator, value: String) {
        self.key = key
        self.op = op
        self.value = value
    }

    /// Parses `k=v`, `k!=v` or `k in (a,b)`; nil when the text has none of these forms or an
    /// invalid key. For `in`, `value` holds the choices joined by commas.
    public init?(parsing text: String) {
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        if words.count >= 3, words[1] == "in", let open = text.firstIndex(of: "("), text.trimmingSpaces().hasSuffix(")") {
            key = String(words[0])
            let inside = text[text.index(after: open)..<text.lastIndex(of: ")")!]
            let choices = inside.split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
            guard !choices.isEmpty else { return nil }
            value = choices.joined(separator: ",")
            op = .oneOf
        } else if let bang = text.firstIndex(of: "!"), text[text.index(after: bang)...].first == "=" {
            key = String(text[..<bang]).trimmingSpaces()
            value = String(text[text.index(bang, offsetBy: 2)...]).trimmingSpaces()
            op = .notEqual
        } else if let index = text.firstIndex(of: "=") {
            key = String(text[..<index]).trimmingSpaces()
            value = String(text[text.index(after: index)...]).trimmingSpaces()
            op = .equal
        } else {
            return nil
        }
        guard !key.isEmpty, Labels.isValidKey(key) else { return nil }
    }

    /// Whether a node with these labels satisfies the constraint.
    public func matches(_ labels: [String: String]) -> Bool {
        switch op {
        case .equal: labels[key] == value
        case .notEqual: labels[key] != value
        case .oneOf: labels[key].map { value.split(separator: ",").map(String.init).contains($0) } ?? false
        }
    }

    public var description: String { op == .oneOf ? "\(key) in (\(value))" : "\(key)\(op.rawValue)\(value)" }
}

/// Validation of label keys, shared by node labels and constraints.
public enum Labels {
    /// Keys are 1–63 characters of letters, digits, `.`, `-`, `_`, `/`.
    public static func isValidKey(_ key: String) -> Bool {
        !key.isEmpty && key.count <= 63 && key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-/".contains($0)) }
    }
}
