import Foundation

/// `POST /v1/webhooks`. Unknown fields are refused (400 naming them).
public struct WebhookCreateRequest: Codable, Hashable, Sendable {
    public var url: String
    public var events: [String]
    /// The team whose events the hook gets; an admin may leave it out for every team's.
    public var team: String?
    /// A `whsec_` secret to sign with; the coordinator makes one when it is left out.
    public var secret: String?

    public init(url: String, events: [String], team: String? = nil, secret: String? = nil) {
        self.url = url
        self.events = events
        self.team = team
        self.secret = secret
    }

    static let fields: Set<String> = ["url", "events", "team", "secret"]

    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = keys.allKeys.map(\.stringValue).first(where: { !Self.fields.contains($0) }) {
            throw DecodingError.dataCorrupted(.init(codingPath: [AnyKey(stringValue: unknown)],
                                                    debugDescription: "unknown field '\(unknown)'; a webhook has url, events, team and secret"))
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        url = try container.decode(String.self, forKey: .url)
        events = try container.decode([String].self, forKey: .events)
        team = try container.decodeIfPresent(String.self, forKey: .team)
        secret = try container.decodeIfPresent(String.self, forKey: .secret)
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// A registered webhook; the secret is never shown again after creation.
public struct WebhookView: Codable, Hashable, Sendable {
    public var id: String
    public var url: String
    public var events: [String]
    /// Nil: every team's events.
    public var team: String?
    public var createdAt: String
    public var createdBy: String

    public init(id: String, url: String, events: [String], team: String?, createdAt: String, createdBy: String) {
        self.id = id
        self.url = url
        self.events = events
        self.team = team
        self.createdAt = createdAt
        self.createdBy = createdBy
    }
}

/// The answer to `POST /v1/webhooks`: the hook, and its secret when the coordinator made it.
public struct WebhookCreated: Codable, Hashable, Sendable {
    public var webhook: WebhookView
    /// Present only when generated: shown this once.
    public var secret: String?

    public init(webhook: WebhookView, secret: String?) {
        self.webhook = webhook
        self.secret = secret
    }
}

/// One try of a delivery.
public struct DeliveryTryView: Codable, Hashable, Sendable {
    public var number: Int
    public var at: String
    public var status: Int?
    public var error: String?
    public var durationMs: Int64

    public init(number: Int, at: String, status: Int?, error: String?, durationMs: Int64) {
        self.number = number
        self.at = at
        self.status = status
        self.error = error
        self.durationMs = durationMs
    }
}

/// A delivery of the outbox, with its tries when one delivery is asked for (or listed).
public struct DeliveryView: Codable, Hashable, Sendable {
    /// Also the `webhook-id` header of every try.
    public var id: String
    public var webhook: String
    public var type: String
    /// `pending`, `delivered` or `failed`.
    public var state: String
    public var createdAt: String
    public var tries: Int
    public var nextTry: String?
    public var lastStatus: Int?
    public var lastError: String?
    public var log: [DeliveryTryView]

    public init(id: String, webhook: String, type: String, state: String, createdAt: String, tries: Int, nextTry: String?,
                lastStatus: Int?, lastError: String?, log: [DeliveryTryView]) {
        self.id = id
        self.webhook = webhook
        self.type = type
        self.state = state
        self.createdAt = createdAt
        self.tries = tries
        self.nextTry = nextTry
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.log = log
    }
}

/// One event of `GET /v1/events`: the `{type, timestamp, data}` shape of webhook bodies, with
/// the id a stream resumes after (`Last-Event-ID`).
public struct StreamEventView: Codable, Hashable, Sendable {
    public var id: Int64
    /// `<kind>.<new state>`, e.g. `job.succeeded`, `task.running`, `node.down`.
    public var type: String
    public var timestamp: String
    public var data: StreamEventData

    public init(id: Int64, type: String, timestamp: String, data: StreamEventData) {
        self.id = id
        self.type = type
        self.timestamp = timestamp
        self.data = data
    }
}

/// What an audit event says: the subject, its job, the change, why and who.
public struct StreamEventData: Codable, Hashable, Sendable {
    public var subject: String
    public var job: String?
    public var from: String?
    public var to: String
    public var reason: String
    public var actor: String

    public init(subject: String, job: String?, from: String?, to: String, reason: String, actor: String) {
        self.subject = subject
        self.job = job
        self.from = from
        self.to = to
        self.reason = reason
        self.actor = actor
    }
}
