/// A task handed to an agent.
public struct Lease: Sendable {
    public var attempt: AttemptRecord
    public var spec: JobSpec

    public init(attempt: AttemptRecord, spec: JobSpec) {
        self.attempt = attempt
        self.spec = spec
    }
}

/// What an agent says about an attempt that ended.
public struct AttemptReport: Hashable, Sendable {
    public var attempt: AttemptID
    public var outcome: AttemptState
    public var exitCode: Int32?
    public var signal: Int32?
    public var peakRSSBytes: Int64?
    public var wallMilliseconds: Int64?
    public var progress: String?
    public var reason: String?

    public init(attempt: AttemptID, outcome: AttemptState, exitCode: Int32? = nil, signal: Int32? = nil, peakRSSBytes: Int64? = nil,
                wallMilliseconds: Int64? = nil, progress: String? = nil, reason: String? = nil) {
        self.attempt = attempt
        self.outcome = outcome
        self.exitCode = exitCode
        self.signal = signal
        self.peakRSSBytes = peakRSSBytes
        self.wallMilliseconds = wallMilliseconds
        self.progress = progress
        self.reason = reason
    }
}

/// The result of ``ClusterState/report(_:from:now:random:)``.
public enum ReportResult: Hashable, Sendable {
    /// Committed; the transition carries what changed.
    case accepted
    /// The attempt holds no lease: it already ended (a duplicate or a stale report).
    case notActive
    /// The attempt is leased to another node.
    case wrongNode(owner: NodeID)
    case invalid(String)
}

/// The answer of ``ClusterState/report(_:from:maxLeases:now:random:)``: a verdict per report,
/// in order, and the leases taken with the freed capacity.
public struct ReportsOutcome: Sendable {
    public var results: [ReportResult]
    public var leases: [Lease]
}

/// Why the cluster refused an operation; mapped to HTTP at the edge.
public enum ClusterError: Error, Hashable, Sendable, CustomStringConvertible {
    case jobNotFound(JobID)
    case nodeNotFound(String)
    case jobFinished(JobID, JobState)
    case unschedulable(String)
    /// The team's money budget does not allow it.
    case overBudget(String)
    case conflict(String)
    /// What the operation was prepared from changed meanwhile; read it again and retry.
    case changedMeanwhile(String)
    case notFound(String)

    public var description: String {
        switch self {
        case .jobNotFound(let id): "job \(id) does not exist"
        case .nodeNotFound(let id): "node \(id) does not exist; `drover nodes` lists them"
        case .jobFinished(let id, let state): "job \(id) has already finished (\(state.rawValue))"
        case .unschedulable(let why): why
        case .overBudget(let why): why
        case .conflict(let why): why
        case .changedMeanwhile(let why): why
        case .notFound(let why): why
        }
    }
}
