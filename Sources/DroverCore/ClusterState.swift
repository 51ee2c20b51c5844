/// Everything the coordinator knows, held in memory, and every rule for changing it.
///
/// Pure: no I/O, no clock. A small composition of parts with one job each — the ``JobQueue``
/// (jobs and their pending work), the ``NodePool`` (nodes, what runs where, reservations,
/// waiting nodes), ``TeamQuotas``, ``Accounting`` (the books) and ``Credentials`` — under one
/// ``ClusterPolicy`` given at construction. The operations (in the `ClusterState+…` files)
/// span parts: each takes the current time and returns a ``Transition``: its answer, the
/// ``Mutation``s that make the change durable, and the ``Effects`` (polls to wake, attempts to
/// cancel, hand-offs); the caller persists the mutations in order, then runs the effects,
/// before answering anyone who asked for the change.
/// Finished attempts are not kept here (the store has them); unstarted shards of a job exist
/// only as the job's `nextUnstarted` cursor.
public struct ClusterState: Sendable {
    /// How the cluster schedules and prices (configuration; only the rate card changes later).
    public internal(set) var policy: ClusterPolicy
    /// Jobs, pending work and retries.
    public internal(set) var queue = JobQueue()
    /// Nodes and the attempts that run on them.
    public internal(set) var pool = NodePool()
    /// Teams' quotas and usage.
    public internal(set) var teams: TeamQuotas
    /// Ledger ids, spend, alerts and reversals.
    public internal(set) var accounting: Accounting
    /// API tokens and agent token hashes.
    public internal(set) var credentials: Credentials

    /// An empty cluster under `policy`.
    public init(policy: ClusterPolicy = ClusterPolicy()) {
        self.policy = policy
        teams = TeamQuotas(defaultQuota: policy.defaultQuota)
        accounting = Accounting()
        credentials = Credentials()
    }

    /// Rebuilds the state from what the store holds. `now` is the moment the coordinator
    /// started: every live node gets one full TTL from it to reappear.
    /// `tasks` are the rows of the jobs memory holds rows of; `finishedTaskCounts` counts the
    /// rows of the other (finished) jobs.
    public init(jobs: [JobRecord], tasks: [TaskRecord], finishedTaskCounts: [JobID: FinishedTaskCounts] = [:], activeAttempts: [AttemptRecord], nodes: [NodeRecord],
                jobCosts: [JobID: Int64] = [:], tokens: [TokenRecord] = [], quotas: [String: Quota] = [:], costs: CostHistory = CostHistory(),
                lastAttemptID: Int64, now: Timestamp, policy: ClusterPolicy = ClusterPolicy()) {
        self.policy = policy
        teams = TeamQuotas(defaultQuota: policy.defaultQuota, quotas: quotas)
        accounting = Accounting(history: costs)
        credentials = Credentials(tokens: tokens)
        for node in nodes {
            pool.put(node, now: now)
            credentials.bind(nodeTokenHash: node.tokenHash, to: node.id)
        }
        var runtimes: [JobID: JobRuntime] = [:]
        for job in jobs {
            runtimes[job.id] = JobRuntime(record: job, costMicros: jobCosts[job.id] ?? 0, wastedMicros: costs.jobWaste[job.id] ?? 0, waitingSince: now)
        }
        for task in tasks {
            // Taken out while it changes so that its task rows are not copied per task.
            guard var job = runtimes.removeValue(forKey: task.ref.job) else { continue }
            job.tasks[task.ref.index] = task
            switch task.state {
            case .queued: job.retryQueue.append(task.ref.index)
            case .running: job.running += 1
            case .succeeded: job.succeeded += 1
            case .failed: job.failed += 1
            case .cancelled: job.cancelled += 1
            }
            runtimes[task.ref.job] = job
        }
        for (id, var job) in runtimes.sorted(by: { $0.key < $1.key }) {
            job.retryQueue.sort()
            // Unstarted shards of a finished job were cancelled without rows. `endJob` moves
            // the cursor to the end, so they are the shards without a row, not the ones past it.
            if job.record.state.isTerminal {
                let counted = finishedTaskCounts[id] ?? FinishedTaskCounts()
                job.succeeded += counted.succeeded
                job.failed += counted.failed
                job.cancelled += counted.cancelled + job.record.spec.taskCount - job.tasks.count - counted.rows
                job.record.nextUnstarted = job.record.spec.taskCount
            } else {
                // A row written before the state was defined by the counts may say `running` with nothing running.
                job.record.state = JobRuntime.liveState(running: job.running)
            }
            job.releaseTaskRowsIfFinished()
            runtimes[id] = nil
            queue.add(job)
        }
        for var attempt in activeAttempts {
            if attempt.meter == nil, let node = pool.nodes[attempt.node] {
                // Written before the cost ledger existed: metered from its start at the node's rates.
                attempt.meter = CostMeter(prices: node.record.prices, since: attempt.startedAt)
            }
            pool.hold(attempt)
            if let team = queue.jobs[attempt.task.job]?.record.spec.team { teams.hold(attempt.allocation, team: team) }
        }
        // Whether the answers of these leases were sent before the restart is unknown: every
        // attempt gets a full orphan age from now to appear in its agent's heartbeats.
        pool.noteAnswered(activeAttempts.map(\.id), now: now)
        pool.lastAttemptID = lastAttemptID
        reestimateLiveJobs(now: now)
    }

    // MARK: - Reading the parts

    /// Every job, by id.
    public var jobs: [JobID: JobRuntime] { queue.jobs }
    /// Every node, by id.
    public var nodes: [NodeID: NodeRuntime] { pool.nodes }
    /// Attempts that hold a lease right now.
    public var activeAttempts: [AttemptID: AttemptRecord] { pool.activeAttempts }
    /// Jobs with tasks waiting for a lease, best first.
    public var pendingJobs: [JobID] { queue.pendingJobs }
    /// Pending jobs per team, best first.
    public var pendingByTeam: [String: [JobID]] { queue.pendingByTeam }
    /// Nodes held for a starving job.
    public var reservations: [NodeID: JobID] { pool.reservations }
    /// Nodes whose agents wait in a long poll for work.
    public var waitingNodes: Set<NodeID> { pool.waitingNodes }
    /// Teams' own quotas.
    public var quotas: [String: Quota] { teams.quotas }
    /// What each team holds now.
    public var teamUsage: [String: TeamUsage] { teams.usage }
    /// API tokens by hash.
    public var tokens: [String: TokenRecord] { credentials.tokens }
    /// Nodes by the hash of their agent token.
    public var nodeIDsByTokenHash: [String: NodeID] { credentials.nodeIDsByTokenHash }
    /// Capacity of the nodes that take leases.
    public var readyCapacity: Resources { pool.readyCapacity }
    /// Currency code of every price and amount.
    public var currency: String { policy.currency }
    /// The last ids handed out (fencing tokens for attempts), and the last ledger row's.
    public var lastJobID: Int64 { queue.lastJobID }
    public var lastNodeID: Int64 { pool.lastNodeID }
    public var lastAttemptID: Int64 { pool.lastAttemptID }
    public var lastLedgerID: Int64 { accounting.lastLedgerID }
    /// Booked spend per team per UTC day (recent days).
    public var dailySpend: [String: [Int64: Int64]] { accounting.dailySpend }
    /// Ledger rows already reversed.
    public var reversedLedgerEntries: Set<Int64> { accounting.reversedLedgerEntries }

    /// The earliest instant a delayed retry becomes leasable, if any is waiting.
    public mutating func nextRetryDue() -> Timestamp? {
        queue.nextRetryDue()
    }

    /// Marks `node`'s agent as waiting in a long poll for work, so that leases weigh it as a
    /// home for tasks; its next lease clears the mark.
    public mutating func noteWaiting(_ node: NodeID) {
        pool.noteWaiting(node)
    }
}
