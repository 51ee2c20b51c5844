/// A domain enum whose raw strings are its JSON, in the store and on the wire alike (the
/// `/v1` contract: docs/openapi.json lists the same values). Decoding an unknown string fails
/// with a message that names the allowed values; `description` is the raw string, so
/// interpolating a value prints what the wire carries (`timed_out`, not `timedOut`).
public protocol WireEnum: RawRepresentable, CaseIterable, Codable, CustomStringConvertible, Sendable where RawValue == String {}

extension WireEnum {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Self(rawValue: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: Self.notOneOf(text))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    /// `"exploded" is not one of succeeded, failed, …`: the message of a refused value.
    public static func notOneOf(_ text: String) -> String {
        "\"\(text)\" is not one of \(allCases.map(\.rawValue).joined(separator: ", "))"
    }
}

// Persisted and wire forms of the domain values. The store keeps specs as JSON; the raw
// values are also the JSON of the /v1 API (DroverAPI's views carry these enums).
extension JobKind: WireEnum {}
extension JobState: WireEnum {}
extension TaskState: WireEnum {}
extension AttemptState: WireEnum {}
extension NodeState: WireEnum {}
extension TaskIsolation: WireEnum {}
extension TokenRole: WireEnum {}
extension BudgetPeriod: WireEnum {}
extension BudgetAlert.Level: WireEnum {}
extension CostResource: WireEnum {}
extension Constraint.Operator: Codable {}
extension JobID: Codable {
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int64.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
