/// What a job is for; batch jobs are arrays of shards.
public enum JobKind: String, Sendable, CaseIterable { case training, batch }

/// Lifecycle of a job: `queued → running → succeeded | failed | cancelled`.
public enum JobState: String, Sendable, CaseIterable {
    case queued, running, succeeded, failed, cancelled
    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// Lifecycle of one task (shard) of a job.
public enum TaskState: String, Sendable, CaseIterable {
    case queued, running, succeeded, failed, cancelled
    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// How an attempt ended. `running` while it holds its lease.
public enum AttemptState: String, Sendable, CaseIterable {
    case running, succeeded, failed
    case timedOut = "timed_out"
    case lost, cancelled, preempted
    public var isTerminal: Bool { self != .running }
}

/// How a node keeps its tasks apart: `uid`, each attempt runs as a uid of its own; `none`,
/// every task runs as the agent's uid and can read the others' environment and files.
public enum TaskIsolation: String, Sendable, CaseIterable {
    case uid
    /// Not `none` in Swift, which an optional's `.none` would shadow.
    case shared = "none"
}

/// Whether a node takes new leases.
public enum NodeState: String, Sendable, CaseIterable {
    case ready, cordoned, draining, down
    public var acceptsLeases: Bool { self == .ready }
}
