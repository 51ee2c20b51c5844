import DroverAPI
import DroverCore
import Foundation

/// The event types a webhook can ask for.
enum WebhookEventType: String, CaseIterable, Sendable {
    case jobSucceeded = "job.succeeded"
    case jobFailed = "job.failed"
    case jobCancelled = "job.cancelled"
    /// Any of the three above (never itself the type of a delivery).
    case jobFinished = "job.finished"
    case attemptFailed = "attempt.failed"
    case attemptLost = "attempt.lost"
    case budgetAlert = "budget.alert"
    case nodeDown = "node.down"

    static var names: [String] { allCases.map(\.rawValue) }

    /// Whether a hook registered for `registered` gets events of this type.
    func isAsked(by registered: [String]) -> Bool {
        registered.contains(rawValue)
            || ([.jobSucceeded, .jobFailed, .jobCancelled].contains(self) && registered.contains(Self.jobFinished.rawValue))
    }
}

/// Something a webhook may be told about, found in a transition's mutations.
struct WebhookOccurrence: Sendable {
    enum Subject: Sendable {
        case job(JobID)
        case attempt(AttemptRecord)
        case node(NodeID)
        case alert(BudgetAlert)
    }

    var type: WebhookEventType
    var subject: Subject
    var at: Timestamp

    /// The occurrences among `mutations`, in order: a job that ended, an attempt that failed,
    /// timed out or was lost, a node that went down, a budget alert. Pure.
    static func found(in mutations: [Mutation]) -> [WebhookOccurrence] {
        var found: [WebhookOccurrence] = []
        for (position, mutation) in mutations.enumerated() {
            switch mutation {
            case .appendAlert(let alert):
                found.append(WebhookOccurrence(type: .budgetAlert, subject: .alert(alert), at: alert.at))
            case .appendEvent(let event):
                guard let slash = event.subject.firstIndex(of: "/") else { continue }
                let kind = event.subject[..<slash], id = String(event.subject[event.subject.index(after: slash)...])
                switch (kind, event.to) {
                case ("job", JobState.succeeded.rawValue), ("job", JobState.failed.rawValue), ("job", JobState.cancelled.rawValue):
                    guard let job = JobID(id), let type = WebhookEventType(rawValue: "job.\(event.to)") else { continue }
                    found.append(WebhookOccurrence(type: type, subject: .job(job), at: event.at))
                case ("attempt", AttemptState.failed.rawValue), ("attempt", AttemptState.timedOut.rawValue), ("attempt", AttemptState.lost.rawValue):
                    // The attempt's row as it ended is put just before its event.
                    guard let number = Int64(id), let record = lastPut(of: AttemptID(number), before: position, in: mutations) else { continue }
                    found.append(WebhookOccurrence(type: event.to == AttemptState.lost.rawValue ? .attemptLost : .attemptFailed,
                                                   subject: .attempt(record), at: event.at))
                case ("node", NodeState.down.rawValue):
                    guard let node = NodeID(id) else { continue }
                    found.append(WebhookOccurrence(type: .nodeDown, subject: .node(node), at: event.at))
                default: continue
                }
            default: continue
            }
        }
        return found
    }

    private static func lastPut(of id: AttemptID, before position: Int, in mutations: [Mutation]) -> AttemptRecord? {
        for mutation in mutations[..<position].reversed() {
            if case .putAttempt(let record) = mutation, record.id == id { return record }
        }
        return nil
    }
}

/// The body of every delivery: `{"type", "timestamp", "data"}`, data being the object the API shows.
struct WebhookBody<Payload: Encodable>: Encodable {
    var type: String
    var timestamp: String
    var data: Payload

    /// Bodies are kept in the outbox: one larger than this is sent with only the subject's id.
    static var maxBytes: Int { 256 << 10 }

    static func encoded(type: WebhookEventType, at: Timestamp, data: Payload, id: String) -> String {
        let timestamp = WireTime.format(milliseconds: at.milliseconds)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        if let bytes = try? encoder.encode(WebhookBody(type: type.rawValue, timestamp: timestamp, data: data)), bytes.count <= maxBytes {
            return String(decoding: bytes, as: UTF8.self)
        }
        let small = WebhookBody<[String: String]>(type: type.rawValue, timestamp: timestamp, data: ["id": id, "truncated": "true"])
        return String(decoding: (try? encoder.encode(small)) ?? Data(), as: UTF8.self)
    }
}

/// Checks what a webhook registration asks for; errors name the field and say what to send.
enum WebhookValidation {
    static func events(_ names: [String]) throws(APIError) -> [String] {
        guard !names.isEmpty else {
            throw APIError.badRequest("give at least one event of \(WebhookEventType.names.joined(separator: ", "))", field: "events")
        }
        for name in names where WebhookEventType(rawValue: name) == nil {
            throw APIError.badRequest("unknown event '\(name)'\(Suggestion.didYouMean(name, in: WebhookEventType.names)); "
                                      + "events are \(WebhookEventType.names.joined(separator: ", "))", field: "events")
        }
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    static func url(_ text: String) throws(APIError) -> String {
        guard text.count <= 2048, let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty else {
            throw APIError.badRequest("'\(text.prefix(200))' is not an http(s) URL with a host, e.g. https://hooks.example.com/drover", field: "url")
        }
        return text
    }
}
