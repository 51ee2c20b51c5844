// Persisted forms of the domain values. The store keeps specs as JSON; these derived
// conformances are the storage format, not the public wire format (DroverAPI owns that).
extension JobKind: Codable {}
extension JobState: Codable {}
extension TaskState: Codable {}
extension AttemptState: Codable {}
extension NodeState: Codable {}
extension Constraint.Operator: Codable {}
extension JobID: Codable {
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int64.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
