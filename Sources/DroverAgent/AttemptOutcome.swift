import DroverAPI
import DroverCore

/// Why the agent stopped an attempt before it ended on its own.
enum StopReason: Sendable, Equatable {
    /// The coordinator asked, the lease is gone, the token was revoked, or the coordinator
    /// was unreachable past the disconnect grace.
    case cancelled(String)
    /// The agent is shutting down: the task is requeued without using its failure budget.
    case preempted(String)

    var reason: String {
        switch self {
        case .cancelled(let reason), .preempted(let reason): reason
        }
    }
}

/// How one attempt ended on this agent, and what it measured.
struct AttemptOutcome: Sendable, Equatable {
    /// What became of the attempt.
    enum Ending: Sendable, Equatable {
        case succeeded
        /// The process ran and exited non-zero, or was killed by a signal nobody sent on purpose.
        case failed(exitCode: Int32?, signal: Int32?)
        /// The process never ran (no working directory, spawn refused).
        case cannotStart(String)
        /// The agent killed it at the lease's timeout.
        case timedOut(limitMilliseconds: Int64)
        /// The agent stopped it (see `StopReason`).
        case stopped(StopReason)
    }

    var ending: Ending
    /// How the process ended; nil when it never ran.
    var exit: ProcessExit?
    /// The last line the task wrote to its progress file.
    var progress: JSONValue?

    init(ending: Ending, exit: ProcessExit? = nil, progress: JSONValue? = nil) {
        (self.ending, self.exit, self.progress) = (ending, exit, progress)
    }

    /// How an attempt whose process exited ended: a timeout first, then a stop the agent
    /// asked for (unless the task exited 0 anyway: its work is done), then its exit status.
    static func ending(of exit: ProcessExit, timedOutAfter timeout: Int64?, stop: StopReason?) -> Ending {
        if let timeout { return .timedOut(limitMilliseconds: timeout) }
        if exit.exitCode == 0 { return .succeeded }
        if let stop { return .stopped(stop) }
        return .failed(exitCode: exit.exitCode, signal: exit.signal)
    }

    /// The outcome in the domain's terms, which is also what the report carries on the wire.
    var state: AttemptState {
        switch ending {
        case .succeeded: .succeeded
        case .failed, .cannotStart: .failed
        case .timedOut: .timedOut
        case .stopped(.cancelled): .cancelled
        case .stopped(.preempted): .preempted
        }
    }

    var succeeded: Bool { ending == .succeeded }

    /// The report's human-readable reason; nil for a success.
    var reason: String? {
        switch ending {
        case .succeeded: nil
        case .failed(let exitCode, let signal): signal.map { "killed by signal \($0)" } ?? "exited with code \(exitCode ?? -1)"
        case .cannotStart(let detail): "cannot start: \(detail)"
        case .timedOut(let limit): "exceeded its timeout of \(limit)ms"
        case .stopped(let stop): stop.reason
        }
    }
}
