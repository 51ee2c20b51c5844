/// What the coordinator made of one report (`ReportResultView.status`).
///
/// Unlike the other wire enums this one decodes any string: an agent must keep working with a
/// newer coordinator that answers a verdict it does not know (`other`), and it then treats the
/// report as not committed. Encoding writes the raw string either way.
public enum ReportVerdict: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Committed now.
    case accepted
    /// Already committed the same way (a resend).
    case duplicate
    /// The lease is gone (409 semantics): recorded as an event, nothing changed.
    case stale
    /// Another node's attempt.
    case forbidden
    /// The report itself is wrong (a malformed id, an outcome an agent may not report).
    case invalid
    /// A verdict this version does not know (a newer coordinator).
    case other(String)

    /// The verdicts this version knows, as the coordinator answers them.
    public static let known: [ReportVerdict] = [.accepted, .duplicate, .stale, .forbidden, .invalid]

    /// The verdict written `text` on the wire; `.other` for one not known.
    public init(_ text: String) {
        self = Self.known.first { $0.rawValue == text } ?? .other(text)
    }

    /// The string on the wire.
    public var rawValue: String {
        switch self {
        case .accepted: "accepted"
        case .duplicate: "duplicate"
        case .stale: "stale"
        case .forbidden: "forbidden"
        case .invalid: "invalid"
        case .other(let text): text
        }
    }

    /// Whether the coordinator holds the report's outcome (now or from before).
    public var isCommitted: Bool { self == .accepted || self == .duplicate }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
