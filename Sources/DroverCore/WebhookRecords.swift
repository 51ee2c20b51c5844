/// A registered webhook: where to send which events, signed with which secret.
public struct WebhookRecord: Hashable, Sendable {
    /// `wh-` and random hex.
    public var id: String
    /// An http(s) URL with a host.
    public var url: String
    /// Event type names (`job.succeeded`, ...), as registered.
    public var events: [String]
    /// The team whose events it gets; nil for every team's (admins only).
    public var team: String?
    /// The `whsec_` secret, sealed by the coordinator (never stored in clear).
    public var sealedSecret: String
    public var createdAt: Timestamp
    /// The token subject that registered it.
    public var createdBy: String

    public init(id: String, url: String, events: [String], team: String?, sealedSecret: String, createdAt: Timestamp, createdBy: String) {
        self.id = id
        self.url = url
        self.events = events
        self.team = team
        self.sealedSecret = sealedSecret
        self.createdAt = createdAt
        self.createdBy = createdBy
    }
}

/// Where a delivery stands.
public enum DeliveryState: String, Hashable, Sendable, CaseIterable, Codable {
    /// Waiting for its next try at `nextTry`.
    case pending
    /// A try got a 2xx answer.
    case delivered
    /// Every try in the retry window failed; `redeliver` queues it again.
    case failed
}

/// One event to send to one webhook: a row of the durable outbox, queued in the same commit
/// as the change that caused the event.
public struct DeliveryRecord: Hashable, Sendable {
    /// `msg_` and random hex; the `webhook-id` header, the same across tries.
    public var id: String
    public var webhook: String
    /// The event type, e.g. `job.succeeded`.
    public var type: String
    /// The exact body sent on every try: `{"type", "timestamp", "data"}`.
    public var payload: String
    public var createdAt: Timestamp
    public var state: DeliveryState
    /// Tries so far.
    public var tries: Int
    /// When the next try is due; nil once delivered or given up.
    public var nextTry: Timestamp?
    /// The HTTP status of the last try, if it got an answer.
    public var lastStatus: Int?
    /// Why the last try failed, if it did.
    public var lastError: String?

    public init(id: String, webhook: String, type: String, payload: String, createdAt: Timestamp, state: DeliveryState = .pending,
                tries: Int = 0, nextTry: Timestamp?, lastStatus: Int? = nil, lastError: String? = nil) {
        self.id = id
        self.webhook = webhook
        self.type = type
        self.payload = payload
        self.createdAt = createdAt
        self.state = state
        self.tries = tries
        self.nextTry = nextTry
        self.lastStatus = lastStatus
        self.lastError = lastError
    }
}

/// One try of a delivery, for the delivery log.
public struct DeliveryTry: Hashable, Sendable {
    public var delivery: String
    /// 1 for the first try.
    public var number: Int
    public var at: Timestamp
    /// The receiver's HTTP status, if it answered.
    public var status: Int?
    /// Why the try failed without an answer (refused, timed out), or the answer was not 2xx.
    public var error: String?
    public var durationMilliseconds: Int64

    public init(delivery: String, number: Int, at: Timestamp, status: Int?, error: String?, durationMilliseconds: Int64) {
        self.delivery = delivery
        self.number = number
        self.at = at
        self.status = status
        self.error = error
        self.durationMilliseconds = durationMilliseconds
    }
}

/// An event of the audit trail with its place in it: the id a stream resumes after.
public struct StoredEvent: Hashable, Sendable {
    public var id: Int64
    public var event: Event

    public init(id: Int64, event: Event) {
        self.id = id
        self.event = event
    }
}
