import Foundation

/// Any JSON value. Job specs are decoded into this first so that validation can name
/// the exact field at fault and refuse fields it does not know.
public enum JSONValue: Hashable, Sendable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if value == value.rounded(), abs(value) < 9e15 { try container.encode(Int64(value)) } else { try container.encode(value) }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// A short name of the value's type, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "a list"
        case .object: "a mapping"
        }
    }

    /// Converts what a YAML or JSON parser produced as `Any` (Yams, JSONSerialization).
    public init(any value: Any?, path: String = "") throws(SpecError) {
        switch value {
        case nil, is NSNull: self = .null
        case let value as Bool: self = .bool(value)
        case let value as Int: self = .number(Double(value))
        case let value as Double: self = .number(value)
        case let value as String: self = .string(value)
        case let value as [Any]:
            var items: [JSONValue] = []
            for (index, item) in value.enumerated() { items.append(try JSONValue(any: item, path: "\(path)[\(index)]")) }
            self = .array(items)
        case let value as [String: Any]:
            var object: [String: JSONValue] = [:]
            for (key, item) in value { object[key] = try JSONValue(any: item, path: path.isEmpty ? key : "\(path).\(key)") }
            self = .object(object)
        case let value as [AnyHashable: Any]:
            var object: [String: JSONValue] = [:]
            for (key, item) in value {
                guard let key = key.base as? String else { throw SpecError(field: path.isEmpty ? "(top level)" : path, "keys must be strings, found \(key)") }
                object[key] = try JSONValue(any: item, path: path.isEmpty ? key : "\(path).\(key)")
            }
            self = .object(object)
        case let value?:
            throw SpecError(field: path.isEmpty ? "(top level)" : path, "unsupported value \(value) (a date or binary value?); quote it as a string")
        }
    }
}
