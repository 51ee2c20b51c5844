import DroverAPI
import DroverCore

// The agent's one adapter between the wire's strings and its domain enums. When the wire
// types carry typed enums, these shrink to field copies.

extension ReportView {
    /// The report of an attempt that ended with `outcome`.
    init(attemptId: String, outcome: AttemptOutcome) {
        self.init(attemptId: attemptId, outcome: outcome.state.rawValue, exitCode: outcome.exit?.exitCode, signal: outcome.exit?.signal,
                  wallMs: outcome.exit?.wallMilliseconds ?? 0, peakRssBytes: outcome.exit?.peakRSSBytes, progress: outcome.progress,
                  reason: outcome.reason)
    }
}

/// What the coordinator made of one report.
enum ReportVerdict: Sendable, Equatable {
    /// Committed now.
    case accepted
    /// Already committed the same way (a resend).
    case duplicate
    /// The lease is gone: recorded as an event, nothing changed.
    case stale
    /// Another node's attempt.
    case forbidden
    case invalid
    /// A verdict this agent does not know (a newer coordinator).
    case other(String)

    init(wire status: String) {
        switch status {
        case "accepted": self = .accepted
        case "duplicate": self = .duplicate
        case "stale": self = .stale
        case "forbidden": self = .forbidden
        case "invalid": self = .invalid
        default: self = .other(status)
        }
    }

    /// Whether the coordinator holds the report's outcome (now or from before).
    var isCommitted: Bool { self == .accepted || self == .duplicate }
}

extension ReportResultView {
    var verdict: ReportVerdict { ReportVerdict(wire: status) }
}
