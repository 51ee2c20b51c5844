import DroverCore

/// Durable storage of the cluster state. The coordinator is its only writer.
///
/// Writes come as batches of ``Mutation``s applied in one transaction, in order; the
/// coordinator groups the changes of many concurrent requests into one batch (group
/// commit). Reads serve what the in-memory state does not keep: finished attempts,
/// events and logs.
public protocol Store: Sendable {
    /// Applies the mutations atomically and durably, in order.
    func apply(_ mutations: [Mutation]) async throws
    /// Everything needed to rebuild ``ClusterState`` after a restart.
    func load() async throws -> StoredState
    /// Replaces the specs of existing jobs, leaving no copy of the old text in the store's
    /// files. Once per upgrade: a job's spec never changes otherwise (secret values stored
    /// in clear by an older coordinator are sealed this way).
    func rewriteSpecs(_ specs: [JobID: JobSpec]) async throws
    /// Ids of jobs, newest first, below `before` when given (paging), optionally of one team or in one state.
    func jobIDs(team: String?, state: JobState?, before: JobID?, limit: Int) async throws -> [JobID]
    /// All attempts of a job, in attempt-id order.
    func attempts(of job: JobID) async throws -> [AttemptRecord]
    /// All attempts of one task, in attempt-id order.
    func attempts(of task: TaskRef) async throws -> [AttemptRecord]
    /// One attempt, running or finished.
    func attempt(_ id: AttemptID) async throws -> AttemptRecord?
    /// The most recent `limit` events of a job (oldest first) and how many there are in all.
    func events(of job: JobID, limit: Int) async throws -> (events: [Event], total: Int)
    /// Events about nodes, most recent `limit`, oldest first.
    func nodeEvents(limit: Int) async throws -> [Event]
    /// Up to `maxBytes` of an attempt's output starting at byte `offset`.
    func log(of attempt: AttemptID, from offset: Int64, maxBytes: Int) async throws -> [UInt8]
    /// Ledger totals grouped by `grouping`, over rows booked in `since..<until`, of one team or all,
    /// split by how each row's attempt ended (or that it still runs).
    func costReport(by grouping: CostGrouping, since: Timestamp, until: Timestamp, team: String?) async throws -> [CostLine]
    /// Ledger rows, oldest first, optionally of one attempt or one team, after row `after`.
    func ledger(attempt: AttemptID?, team: String?, after: Int64, limit: Int) async throws -> [LedgerEntry]
    /// One ledger row.
    func ledgerEntry(_ id: Int64) async throws -> LedgerEntry?
    /// Budget alerts, most recent `limit`, oldest first, of one team or all.
    func alerts(team: String?, limit: Int) async throws -> [BudgetAlert]
    /// Audit events for a stream: with `after`, the first `limit` after that id; without, the
    /// most recent `limit` below `before` (all when nil). Oldest first either way. `team` keeps
    /// only events of that team's jobs; `job` only that job's.
    func eventLog(after: Int64?, before: Int64?, job: JobID?, team: String?, limit: Int) async throws -> [StoredEvent]
    /// Deliveries of the webhook outbox, newest first, of one webhook or all.
    func deliveries(webhook: String?, limit: Int) async throws -> [DeliveryRecord]
    /// One delivery.
    func delivery(_ id: String) async throws -> DeliveryRecord?
    /// Pending deliveries whose next try is due by `now`, soonest first.
    func dueDeliveries(by now: Timestamp, limit: Int) async throws -> [DeliveryRecord]
    /// When the soonest pending delivery is due, if any is pending.
    func nextDeliveryDue() async throws -> Timestamp?
    /// Every try of a delivery, oldest first.
    func deliveryTries(of delivery: String) async throws -> [DeliveryTry]
}

/// How ``Store/costReport(by:since:until:team:)`` groups the ledger.
public enum CostGrouping: String, Sendable, CaseIterable {
    case team, job, node, day
}

/// One line of a cost report, in micro-units.
public struct CostLine: Hashable, Sendable {
    /// The team, the job id, the node id or the UTC day (`2026-11-26`).
    public var key: String
    /// Booked for attempts that succeeded.
    public var succeededMicros: Int64
    /// Booked for attempts that failed, timed out, were lost, preempted or cancelled.
    public var wastedMicros: Int64
    /// Booked so far for attempts still running.
    public var runningMicros: Int64
    /// Distinct attempts with rows in the line.
    public var attempts: Int
    public var totalMicros: Int64 { succeededMicros + wastedMicros + runningMicros }

    public init(key: String, succeededMicros: Int64 = 0, wastedMicros: Int64 = 0, runningMicros: Int64 = 0, attempts: Int = 0) {
        self.key = key
        self.succeededMicros = succeededMicros
        self.wastedMicros = wastedMicros
        self.runningMicros = runningMicros
        self.attempts = attempts
    }
}

/// What ``Store/load()`` returns.
public struct StoredState: Sendable {
    public var jobs: [JobRecord]
    /// The task rows (shards that started at least once) of the jobs memory holds rows of:
    /// live jobs, and finished ones with an attempt still running
    /// (``ClusterState/JobRuntime/holdsTaskRows(state:running:)``).
    public var tasks: [TaskRecord]
    /// How the rows of every other job ended.
    public var finishedTaskCounts: [JobID: FinishedTaskCounts] = [:]
    public var activeAttempts: [AttemptRecord]
    public var nodes: [NodeRecord]
    /// Sum of the cost booked for each job's attempts, in micro-units.
    public var jobCosts: [JobID: Int64]
    /// API tokens, revoked ones included.
    public var tokens: [TokenRecord] = []
    /// Teams' quotas.
    public var quotas: [String: Quota] = [:]
    /// Recent spend, alerts and ledger ids.
    public var costs = CostHistory()
    /// Registered webhooks (kept by the coordinator beside the cluster state).
    public var webhooks: [WebhookRecord] = []
    public var lastAttemptID: Int64

    public init(jobs: [JobRecord] = [], tasks: [TaskRecord] = [], activeAttempts: [AttemptRecord] = [], nodes: [NodeRecord] = [],
                jobCosts: [JobID: Int64] = [:], lastAttemptID: Int64 = 0) {
        self.jobCosts = jobCosts
        self.jobs = jobs
        self.tasks = tasks
        self.activeAttempts = activeAttempts
        self.nodes = nodes
        self.lastAttemptID = lastAttemptID
    }

    /// Splits `rows` into the rows memory holds and the counts of the rest, by the one rule.
    public static func splitTaskRows(_ rows: [TaskRecord], of jobs: [JobRecord]) -> (held: [TaskRecord], finished: [JobID: FinishedTaskCounts]) {
        let states = Dictionary(uniqueKeysWithValues: jobs.map { ($0.id, $0.state) })
        var running: [JobID: Int] = [:]
        for row in rows where row.state == .running { running[row.ref.job, default: 0] += 1 }
        var held: [TaskRecord] = []
        var finished: [JobID: FinishedTaskCounts] = [:]
        for row in rows {
            guard let state = states[row.ref.job] else { continue }
            if ClusterState.JobRuntime.holdsTaskRows(state: state, running: running[row.ref.job] ?? 0) {
                held.append(row)
            } else {
                finished[row.ref.job, default: FinishedTaskCounts()].add(row.state)
            }
        }
        return (held, finished)
    }

    /// Rebuilds the in-memory cluster state under `policy`.
    public func clusterState(now: Timestamp, policy: ClusterPolicy = ClusterPolicy()) -> ClusterState {
        ClusterState(jobs: jobs, tasks: tasks, finishedTaskCounts: finishedTaskCounts, activeAttempts: activeAttempts, nodes: nodes, jobCosts: jobCosts, tokens: tokens, quotas: quotas, costs: costs,
                     lastAttemptID: lastAttemptID, now: now, policy: policy)
    }
}
