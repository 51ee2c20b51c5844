import DroverCore
import Foundation

// MARK: - Quotas

/// A team's limits; absent means unlimited.
public struct QuotaLimits: Codable, Hashable, Sendable {
    public var cpu: Double?
    public var memory: Int64?
    public var gpu: Int?
    public var running: Int?
    public init(cpu: Double?, memory: Int64?, gpu: Int?, running: Int?) { (self.cpu, self.memory, self.gpu, self.running) = (cpu, memory, gpu, running) }
}

/// What a team holds or waits for.
public struct QuotaAmounts: Codable, Hashable, Sendable {
    public var cpu: Double
    public var memory: Int64
    public var gpu: Int
    /// Tasks (running, for `inUse`; queued, for `queued`).
    public var tasks: Int
    public init(cpu: Double, memory: Int64, gpu: Int, tasks: Int) { (self.cpu, self.memory, self.gpu, self.tasks) = (cpu, memory, gpu, tasks) }
}

/// `GET /v1/quotas`: limit, in use and queued demand of a team.
public struct QuotaView: Codable, Hashable, Sendable {
    public var team: String
    public var limit: QuotaLimits
    public var weight: Double
    /// Whether the limit is the team's own or the cluster default.
    public var isDefault: Bool
    public var inUse: QuotaAmounts
    public var queued: QuotaAmounts
    /// The team's money budget and its spend in the current period, if it has one.
    public var budget: BudgetView?
    public init(team: String, limit: QuotaLimits, weight: Double, isDefault: Bool, inUse: QuotaAmounts, queued: QuotaAmounts) {
        (self.team, self.limit, self.weight, self.isDefault, self.inUse, self.queued) = (team, limit, weight, isDefault, inUse, queued)
    }
}

// MARK: - Tokens

/// `POST /v1/tokens`.
public struct TokenCreateRequest: Codable, Hashable, Sendable {
    public var team: String
    /// submitter | reader
    public var role: TokenRole
    public init(team: String, role: TokenRole) { (self.team, self.role) = (team, role) }
}

/// A token without its secret.
public struct TokenView: Codable, Hashable, Sendable {
    public var id: String
    public var role: TokenRole
    public var team: String?
    public var createdAt: String
    public var createdBy: String
    public var revokedAt: String?
    public init(id: String, role: TokenRole, team: String?, createdAt: String, createdBy: String, revokedAt: String?) {
        (self.id, self.role, self.team, self.createdAt, self.createdBy, self.revokedAt) = (id, role, team, createdAt, createdBy, revokedAt)
    }
}

/// The answer to a token creation: the only time the secret is shown.
public struct TokenCreated: Codable, Hashable, Sendable {
    public var token: String
    public var info: TokenView
    public init(token: String, info: TokenView) { (self.token, self.info) = (token, info) }
}

/// RFC 9457 problem details, the body of every error response.
public struct ProblemDetails: Codable, Hashable, Sendable, Error, CustomStringConvertible {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    /// The request field at fault, when there is one (the first, when there are several).
    public var field: String?
    /// Every field at fault, when an invalid spec had more than one error (an extension
    /// member: `detail` lists them too, for clients that do not read it).
    public var errors: [FieldProblem]?

    public init(type: String = "about:blank", title: String, status: Int, detail: String, field: String? = nil, errors: [FieldProblem]? = nil) {
        (self.type, self.title, self.status, self.detail, self.field, self.errors) = (type, title, status, detail, field, errors)
    }

    public var description: String {
        if let errors, errors.count > 1 { return errors.map(\.description).joined(separator: "\n") }
        return field.map { "\($0): \(detail)" } ?? detail
    }
}

/// One field's error in a problem that names several.
public struct FieldProblem: Codable, Hashable, Sendable, CustomStringConvertible {
    public var field: String
    public var detail: String
    public init(field: String, detail: String) { (self.field, self.detail) = (field, detail) }
    public var description: String { "\(field): \(detail)" }
}

/// Timestamps on the wire: RFC 3339 with milliseconds, UTC.
public enum WireTime {
    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
    private static let plainStyle = Date.ISO8601FormatStyle(timeZone: .gmt)

    /// `2023-11-14T22:13:20.123Z`. The milliseconds are written from the integer: a Date
    /// (a Double of seconds) holds most millisecond instants only approximately, and the
    /// formatter truncates, so `.123` would often come out as `.122`.
    public static func format(milliseconds: Int64) -> String {
        var (seconds, millis) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        if millis < 0 { (seconds, millis) = (seconds - 1, millis + 1000) }
        let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(plainStyle)  // ends in "Z"
        let fraction = String(millis)
        return "\(whole.dropLast()).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)Z"
    }

    /// Parses an RFC 3339 timestamp, with or without fractional seconds.
    public static func parse(_ text: String) -> Int64? {
        guard let date = (try? style.parse(text)) ?? (try? plainStyle.parse(text)) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}
