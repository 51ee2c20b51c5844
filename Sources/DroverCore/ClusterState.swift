/// Everything the coordinator knows, held in memory, and every rule for changing it.
///
/// Pure: no I/O, no clock. Each operation takes the current time and returns the
/// ``Mutation``s that make the change durable; the caller persists them in order before
/// answering anyone who asked for the change. Finished attempts are not kept here (the
/// store has them); unstarted shards of a job exist only as the job's `nextUnstarted` cursor.
public struct ClusterState: Sendable {
    public internal(set) var jobs: [JobID: JobRuntime] = [:]
    public internal(set) var nodes: [NodeID: NodeRuntime] = [:]
    /// Attempts that hold a lease right now.
    public internal(set) var activeAttempts: [AttemptID: AttemptRecord] = [:]
    /// Jobs with tasks waiting for a lease, best first (priority, then submission order).
    public private(set) var pendingJobs: [JobID] = []
    /// The same jobs per team, each list best first: a lease looks at each team's head (the
    /// first job that fits the polling node), not at every pending job.
    public private(set) var pendingByTeam: [String: [JobID]] = [:]
    /// Capacity of the nodes that take leases, kept up to date as nodes change state.
    public internal(set) var readyCapacity: Resources = .zero
    /// Nodes held for a starving job: they lease that job only until one of its tasks fits.
    public private(set) var reservations: [NodeID: JobID] = [:]
    /// A team's first job in line that has had no lease for this long gets a node reserved
    /// (configuration; nil turns reservations off).
    public var reserveAfterMilliseconds: Int64? = 300_000
    /// How a task picks between nodes that could both take it (configuration).
    public var placement = PlacementStrategy.pack
    /// Nodes whose agents wait in a long poll for work right now (not persisted): the other
    /// homes a lease weighs against the node that asks.
    public private(set) var waitingNodes: Set<NodeID> = []
    /// Waiting nodes that leases passed work to, for the caller to wake (`takeHandoffs`).
    public private(set) var handoffs: Set<NodeID> = []
    /// When the last lease was handed out, to any job (not persisted).
    public private(set) var lastLeaseAt = Timestamp(milliseconds: 0)
    public private(set) var lastJobID: Int64 = 0
    public private(set) var lastNodeID: Int64 = 0
    public private(set) var lastAttemptID: Int64 = 0
    /// Nodes by the hash of their agent token, to authenticate agents.
    public internal(set) var nodeIDsByTokenHash: [String: NodeID] = [:]
    /// API tokens (team submitters and readers, generated admin and join tokens) by hash.
    public internal(set) var tokens: [String: TokenRecord] = [:]
    /// Teams' quotas; teams without one get `defaultQuota`.
    public internal(set) var quotas: [String: Quota] = [:]
    /// The quota of teams without their own (configuration, not persisted).
    public var defaultQuota = Quota.unlimited
    /// What each team holds now, kept in step with `activeAttempts`.
    public private(set) var teamUsage: [String: TeamUsage] = [:]
    /// Id of the last cost-ledger row.
    public internal(set) var lastLedgerID: Int64 = 0
    /// Booked spend per team per UTC day (days since 1970-01-01), recent days only: what budgets count.
    public internal(set) var dailySpend: [String: [Int64: Int64]] = [:]
    /// Budget alerts already raised, so each is raised once per period.
    var raisedAlerts: Set<AlertKey> = []
    /// Ledger rows already reversed (each can be reversed once).
    public internal(set) var reversedLedgerEntries: Set<Int64> = []
    /// Currency code of every price and amount (configuration, not persisted).
    public var currency = "USD"
    /// Label-keyed rates that override what agents declare (configuration, not persisted).
    public var rateCard = RateCard()

    public init() {}

    /// A job and the rows of its started shards.
    public struct JobRuntime: Sendable {
        public internal(set) var record: JobRecord
        public internal(set) var tasks: [Int: TaskRecord] = [:]
        /// Shards with a task row waiting for another attempt.
        public internal(set) var retryQueue: [Int] = []
        public internal(set) var running = 0
        public internal(set) var succeeded = 0
        public internal(set) var failed = 0
        public internal(set) var cancelled = 0
        /// Cost booked to the ledger for the job's attempts so far, in micro-units.
        public internal(set) var costMicros: Int64 = 0
        /// The part of `costMicros` spent on attempts that ended other than succeeded.
        public internal(set) var wastedMicros: Int64 = 0
        /// Since when the job has waited without a lease (its submission or its last lease; after
        /// a restart, the restart). Not persisted.
        public internal(set) var waitingSince = Timestamp(milliseconds: 0)
        /// Circuit-breaker memory (not persisted: a restart gives the job a fresh streak).
        public internal(set) var anySucceeded = false
        public internal(set) var fastFailureStreak = 0
        public internal(set) var streakExitCode: Int32?

        mutating func noteForCircuitBreaker(outcome: AttemptState, exitCode: Int32?, milliseconds: Int64) {
            switch outcome {
            case .succeeded:
                anySucceeded = true
                fastFailureStreak = 0
            case .failed, .timedOut:
                let fast = milliseconds < (record.spec.circuitBreaker?.fastMilliseconds ?? 0)
                if fast && fastFailureStreak > 0 && exitCode == streakExitCode {
                    fastFailureStreak += 1
                } else {
                    fastFailureStreak = fast ? 1 : 0
                }
                streakExitCode = exitCode
            default:
                break
            }
        }

        public var queued: Int { record.spec.taskCount - running - succeeded - failed - cancelled }
        public var hasUnstarted: Bool { record.nextUnstarted < record.spec.taskCount }
        public var hasPendingWork: Bool { !record.state.isTerminal && (hasUnstarted || !retryQueue.isEmpty) }
    }

    /// A node and what it holds.
    public struct NodeRuntime: Sendable {
        public internal(set) var record: NodeRecord
        public internal(set) var allocated: Resources = .zero
        public internal(set) var freeGPUs: [Int]
        public internal(set) var active: Set<AttemptID> = []
        /// Last time the agent was heard from. Not persisted: after a restart every node
        /// gets a full TTL from the moment the coordinator came back.
        public internal(set) var lastSeen: Timestamp
        public var free: Resources { record.capacity - allocated }
        public var placementCandidate: PlacementCandidate {
            PlacementCandidate(node: record.id, capacity: record.capacity, free: free, labels: record.labels)
        }
    }

    // MARK: - Loading

    /// Rebuilds the state from what the store holds. `now` is the moment the coordinator
    /// started: every live node gets one full TTL from it to reappear.
    public init(jobs: [JobRecord], tasks: [TaskRecord], activeAttempts: [AttemptRecord], nodes: [NodeRecord],
                jobCosts: [JobID: Int64] = [:], tokens: [TokenRecord] = [], quotas: [String: Quota] = [:], costs: CostHistory = CostHistory(),
                lastAttemptID: Int64, now: Timestamp) {
        for token in tokens { self.tokens[token.hash] = token }
        lastLedgerID = costs.lastLedgerID
        reversedLedgerEntries = costs.reversedLedgerEntries
        for spend in costs.recentSpend { dailySpend[spend.team, default: [:]][spend.day, default: 0] += spend.micros }
        for alert in costs.alerts { raisedAlerts.insert(AlertKey(team: alert.team, level: alert.level, periodStartDay: alert.periodStartDay)) }
        self.quotas = quotas
        for node in nodes {
            self.nodes[node.id] = NodeRuntime(record: node, freeGPUs: node.gpuIndices.sorted(), lastSeen: now)
            nodeIDsByTokenHash[node.tokenHash] = node.id
            lastNodeID = max(lastNodeID, node.id.rawValue)
        }
        for job in jobs {
            self.jobs[job.id] = JobRuntime(record: job, costMicros: jobCosts[job.id] ?? 0, wastedMicros: costs.jobWaste[job.id] ?? 0, waitingSince: now)
            lastJobID = max(lastJobID, job.id.rawValue)
        }
        for task in tasks {
            // Taken out while it changes so that its task rows are not copied per task.
            guard var job = self.jobs.removeValue(forKey: task.ref.job) else { continue }
            job.tasks[task.ref.index] = task
            switch task.state {
            case .queued: job.retryQueue.append(task.ref.index)
            case .running: job.running += 1
            case .succeeded: job.succeeded += 1
            case .failed: job.failed += 1
            case .cancelled: job.cancelled += 1
            }
            self.jobs[task.ref.job] = job
        }
        for id in self.jobs.keys {
            self.jobs[id]!.retryQueue.sort()
            // Unstarted shards of a finished job were cancelled without rows. `endJob` moves
            // the cursor to the end, so they are the shards without a row, not the ones past it.
            let job = self.jobs[id]!
            if job.record.state.isTerminal {
                self.jobs[id]!.cancelled += job.record.spec.taskCount - job.tasks.count
                self.jobs[id]!.record.nextUnstarted = job.record.spec.taskCount
            }
        }
        for var attempt in activeAttempts {
            if attempt.meter == nil, let node = self.nodes[attempt.node] {
                // Written before the cost ledger existed: metered from its start at the node's rates.
                attempt.meter = CostMeter(prices: node.record.prices, since: attempt.startedAt)
            }
            self.activeAttempts[attempt.id] = attempt
            if let team = self.jobs[attempt.task.job]?.record.spec.team { hold(attempt.allocation, team: team) }
            if var node = self.nodes[attempt.node] {
                node.allocated = node.allocated + attempt.allocation
                node.freeGPUs.removeAll { attempt.gpuIndices.contains($0) }
                node.active.insert(attempt.id)
                self.nodes[attempt.node] = node
            }
        }
        self.lastAttemptID = lastAttemptID
        let pending = self.jobs.values.filter(\.hasPendingWork).map(\.record.id)
        pendingJobs = pending.sorted { isBefore($0, $1) }
        for id in pendingJobs { pendingByTeam[self.jobs[id]!.record.spec.team, default: []].append(id) }
        refreshReadyCapacity()
    }

    // MARK: - Jobs

    /// Accepts a validated job. Refuses one that no registered node could ever hold, one that can
    /// never fit its team's quota, and one its team's budget does not admit.
    public mutating func submit(_ spec: JobSpec, by actor: String, now: Timestamp) throws(ClusterError) -> (JobRecord, [Mutation]) {
        try checkAdmission(spec, now: now)
        lastJobID += 1
        let record = JobRecord(id: JobID(lastJobID), spec: spec, submittedAt: now, submittedBy: actor)
        jobs[record.id] = JobRuntime(record: record, waitingSince: now)
        insertPending(record.id)
        let event = Event(subject: "job/\(record.id)", job: record.id, at: now, from: nil, to: JobState.queued.rawValue,
                          reason: "submitted \(spec.kind.rawValue) job '\(spec.name)' with \(spec.taskCount) task(s)", actor: actor)
        return (record, [.putJob(record), .appendEvent(event)])
    }

    /// The checks of ``submit(_:by:now:)``, without submitting: throws why the job would be refused.
    public func checkAdmission(_ spec: JobSpec, now: Timestamp) throws(ClusterError) {
        if !nodes.isEmpty {
            let candidates = nodes.values.filter { node in spec.constraints.allSatisfy { $0.matches(node.record.labels) } }
            if candidates.isEmpty {
                throw .unschedulable("no registered node matches the constraints \(spec.constraints.map(\.description).joined(separator: ", "))")
            }
            if !candidates.contains(where: { spec.resources.fits(in: $0.record.capacity) }) {
                let largest = candidates.max { $0.record.capacity.millicores < $1.record.capacity.millicores }!
                throw .unschedulable("no node could ever fit a task needing \(spec.resources); the largest is \(largest.record.name) with \(largest.record.capacity)")
            }
        }
        if !quota(of: spec.team).admits(spec.resources) {
            throw .unschedulable("a task needing \(spec.resources) can never fit team \(spec.team)'s quota (\(Self.describe(quota(of: spec.team))))")
        }
        // The estimate looks at every node: only worth it when the team has a budget.
        if quota(of: spec.team).budget != nil, let refusal = budgetRefusal(team: spec.team, estimate: estimate(spec, now: now)) {
            throw .overBudget(refusal)
        }
    }

    /// Cancels a job: queued shards are cancelled at once, running attempts are asked to stop.
    public mutating func cancel(_ id: JobID, by actor: String, now: Timestamp) throws(ClusterError) -> [Mutation] {
        guard let job = jobs[id] else { throw .jobNotFound(id) }
        guard !job.record.state.isTerminal else { throw .jobFinished(id, job.record.state) }
        var mutations: [Mutation] = []
        endJob(id, as: .cancelled, reason: "cancelled by \(actor)", actor: actor, now: now, into: &mutations)
        return mutations
    }

    /// Attempts of `node` the agent must stop because their job has ended.
    public func attemptsToCancel(on node: NodeID) -> [AttemptID] {
        guard let runtime = nodes[node] else { return [] }
        return runtime.active.filter { id in
            guard let attempt = activeAttempts[id] else { return false }
            return jobs[attempt.task.job]?.record.state.isTerminal ?? true
        }.sorted()
    }

    // MARK: - Nodes

    /// Registers an agent, or takes over the node of the same name (an agent restarting).
    /// A takeover revokes the old token and declares the old instance's attempts lost.
    public mutating func register(
        name: String, capacity: Resources, gpuIndices: [Int], labels: [String: String], prices: Prices,
        tokenHash: String, now: Timestamp, random: inout some RandomNumberGenerator
    ) -> (NodeRecord, [Mutation]) {
        var mutations: [Mutation] = []
        if let existing = nodes.values.first(where: { $0.record.name == name }) {
            let id = existing.record.id
            for attemptID in existing.active.sorted() {
                endAttempt(attemptID, outcome: .lost, report: nil, reason: "node \(name) re-registered; the previous agent's attempts are lost",
                           actor: "node/\(id)", now: now, random: &random, into: &mutations)
            }
            var record = existing.record
            let old = record.state
            record.capacity = capacity
            record.gpuIndices = gpuIndices
            record.labels = labels
            record.declaredPrices = prices
            record.prices = rateCard.prices(for: labels, declared: prices)
            nodeIDsByTokenHash[record.tokenHash] = nil
            nodeIDsByTokenHash[tokenHash] = id
            record.tokenHash = tokenHash
            // A cordon or drain set by an admin survives an agent restart.
            if record.state == .down { record.state = .ready }
            nodes[id] = NodeRuntime(record: record, freeGPUs: gpuIndices.sorted(), lastSeen: now)
            refreshReadyCapacity()
            mutations.append(.putNode(record))
            mutations.append(.appendEvent(Event(subject: "node/\(id)", job: nil, at: now, from: old.rawValue, to: record.state.rawValue,
                                                reason: "agent re-registered with \(capacity)", actor: "node/\(id)")))
            return (record, mutations)
        }
        lastNodeID += 1
        var record = NodeRecord(id: NodeID(lastNodeID), name: name, capacity: capacity, gpuIndices: gpuIndices, labels: labels,
                                prices: rateCard.prices(for: labels, declared: prices), registeredAt: now, tokenHash: tokenHash)
        record.declaredPrices = prices
        nodes[record.id] = NodeRuntime(record: record, freeGPUs: gpuIndices.sorted(), lastSeen: now)
        refreshReadyCapacity()
        nodeIDsByTokenHash[tokenHash] = record.id
        mutations.append(.putNode(record))
        mutations.append(.appendEvent(Event(subject: "node/\(record.id)", job: nil, at: now, from: nil, to: NodeState.ready.rawValue,
                                            reason: "registered with \(capacity)", actor: "node/\(record.id)")))
        return (record, mutations)
    }

    /// Records that the agent of `node` is alive and which attempts it holds.
    ///
    /// Returns the attempts it reported that the coordinator no longer considers its own (the
    /// agent must kill them), and those of its attempts to cancel. Attempts the coordinator
    /// leased to the node more than `orphanAfterMilliseconds` ago that the agent does not hold
    /// are lost: the answer carrying their lease never reached it (the coordinator died
    /// after committing the lease, or the connection broke).
    public mutating func heartbeat(node: NodeID, attempts: [AttemptID: String?], now: Timestamp, orphanAfterMilliseconds: Int64,
                                   random: inout some RandomNumberGenerator)
        -> (unknown: [AttemptID], cancel: [AttemptID], mutations: [Mutation]) {
        guard nodes[node] != nil else { return (attempts.keys.sorted(), [], []) }
        var mutations = touch(node: node, now: now)
        var unknown: [AttemptID] = []
        for (id, progress) in attempts {
            guard var attempt = activeAttempts[id], attempt.node == node else {
                unknown.append(id)
                continue
            }
            if let progress {
                attempt.progress = progress
                activeAttempts[id] = attempt
            }
        }
        let name = nodes[node]!.record.name
        for id in nodes[node]!.active.sorted() where attempts[id] == nil {
            guard let attempt = activeAttempts[id], now.milliseconds(since: attempt.startedAt) > orphanAfterMilliseconds else { continue }
            endAttempt(id, outcome: .lost, report: nil, reason: "agent \(name) does not hold this attempt: its lease never reached the agent",
                       actor: "coordinator", now: now, random: &random, into: &mutations)
        }
        return (unknown.sorted(), attemptsToCancel(on: node), mutations)
    }

    /// Notes that a node was heard from (any authenticated request counts). A node declared
    /// down comes back as ready: its old attempts were already lost and requeued.
    @discardableResult
    public mutating func touch(node: NodeID, now: Timestamp) -> [Mutation] {
        guard nodes[node] != nil else { return [] }
        nodes[node]!.lastSeen = now
        guard nodes[node]!.record.state == .down else { return [] }
        nodes[node]!.record.state = .ready
        refreshReadyCapacity()
        let record = nodes[node]!.record
        return [.putNode(record),
                .appendEvent(Event(subject: "node/\(node)", job: nil, at: now, from: NodeState.down.rawValue, to: NodeState.ready.rawValue,
                                   reason: "agent reconnected", actor: "node/\(node)"))]
    }

    /// Gives every node `milliseconds` more before it can be declared down: the coordinator
    /// itself was stalled that long, so silence in that time proves nothing about the nodes.
    public mutating func forgiveSilence(milliseconds: Int64) {
        for id in nodes.keys { nodes[id]!.lastSeen = nodes[id]!.lastSeen.adding(milliseconds: milliseconds) }
    }

    /// Changes a node's administrative state (cordon, drain, uncordon).
    /// With `drainDeadline`, a drain requeues what still runs on the node at that instant
    /// (as preempted: no failure budget used).
    public mutating func setNodeState(_ id: NodeID, to state: NodeState, by actor: String, now: Timestamp,
                                      drainDeadline: Timestamp? = nil) throws(ClusterError) -> [Mutation] {
        guard var node = nodes[id] else { throw .nodeNotFound(id.description) }
        let old = node.record.state
        if old == .down && state != .down { throw .conflict("node \(node.record.name) is down; it becomes ready when its agent registers again") }
        let deadline = state == .draining ? drainDeadline : nil
        guard old != state || node.record.drainDeadline != deadline else { return [] }
        node.record.state = state
        node.record.drainDeadline = deadline
        nodes[id] = node
        refreshReadyCapacity()
        return [.putNode(node.record),
                .appendEvent(Event(subject: "node/\(id)", job: nil, at: now, from: old.rawValue, to: state.rawValue,
                                   reason: "set by \(actor)" + (deadline.map { "; what still runs at \($0.milliseconds) ms is requeued" } ?? ""), actor: actor))]
    }

    /// Requeues what still runs on draining nodes whose deadline has passed, as preempted.
    public mutating func enforceDrainDeadlines(now: Timestamp, random: inout some RandomNumberGenerator) -> [Mutation] {
        var mutations: [Mutation] = []
        for id in nodes.keys.filter({ nodes[$0]!.record.state == .draining }).sorted() {
            let node = nodes[id]!
            guard node.record.state == .draining, let deadline = node.record.drainDeadline, deadline <= now, !node.active.isEmpty else { continue }
            for attemptID in node.active.sorted() {
                endAttempt(attemptID, outcome: .preempted, report: nil, reason: "node \(node.record.name) drained: its deadline passed",
                           actor: "coordinator", now: now, random: &random, into: &mutations)
            }
        }
        return mutations
    }

    /// Declares down every node silent for longer than `ttlMilliseconds`; their attempts are lost.
    public mutating func expireSilentNodes(now: Timestamp, ttlMilliseconds: Int64, random: inout some RandomNumberGenerator) -> [Mutation] {
        var mutations: [Mutation] = []
        let silent = nodes.keys.filter { nodes[$0]!.record.state != .down && now.milliseconds(since: nodes[$0]!.lastSeen) > ttlMilliseconds }
        for id in silent.sorted() {
            let node = nodes[id]!
            let silence = Quantity.formatDuration(now.milliseconds(since: node.lastSeen))
            for attemptID in node.active.sorted() {
                endAttempt(attemptID, outcome: .lost, report: nil, reason: "node \(node.record.name) silent for \(silence)",
                           actor: "coordinator", now: now, random: &random, into: &mutations)
            }
            var record = nodes[id]!.record
            let old = record.state
            record.state = .down
            nodes[id]!.record = record
            refreshReadyCapacity()
            mutations.append(.putNode(record))
            mutations.append(.appendEvent(Event(subject: "node/\(id)", job: nil, at: now, from: old.rawValue, to: NodeState.down.rawValue,
                                                reason: "no heartbeat for \(silence) (TTL \(Quantity.formatDuration(ttlMilliseconds)))", actor: "coordinator")))
        }
        return mutations
    }

    // MARK: - Leasing

    /// Leases up to `limit` tasks that fit the free resources of `node`, best job first.
    ///
    /// A task goes elsewhere when a node now waiting for work is a better home for it under
    /// `placement`: the lease passes that job over and adds the better node to `handoffs`
    /// for the caller to wake. A node reserved for a starving job takes that job when it
    /// fits, and meanwhile only tasks that end before it could (backfill).
    public mutating func lease(node nodeID: NodeID, limit: Int, now: Timestamp) -> ([Lease], [Mutation]) {
        waitingNodes.remove(nodeID)
        guard var node = nodes[nodeID], node.record.state.acceptsLeases, limit > 0 else { return ([], []) }
        node.lastSeen = now
        var leases: [Lease] = []
        var mutations: [Mutation] = []
        let capacity = readyCapacity
        var overBudget: [String: Bool] = [:]
        var passedOver: Set<JobID> = []
        // A node reserved for a starving job leases that job only (or backfill) until it fits.
        var reserved = reservedJob(on: nodeID, now: now)
        var backfillEnd: Timestamp??
        while leases.count < limit {
            var best: JobID?
            var servesReservation = false
            if let jobID = reserved {
                let job = jobs[jobID]!
                let spec = job.record.spec
                if spec.resources.fits(in: node.free), spec.resources.gpus <= node.freeGPUs.count, hasDueTask(job, now: now) {
                    best = jobID
                    servesReservation = true
                    reservations[nodeID] = nil // served: the node takes any work again
                    reserved = nil
                } else {
                    if backfillEnd == nil { backfillEnd = .some(reservedStart(of: spec.resources, on: node, now: now)) }
                    guard let end = backfillEnd!, hasDueTask(job, now: now) else { break }
                    best = bestJob(for: node, capacity: capacity, now: now, endingBy: end, passedOver: passedOver, overBudget: &overBudget)
                }
            } else {
                best = bestJob(for: node, capacity: capacity, now: now, endingBy: nil, passedOver: passedOver, overBudget: &overBudget)
            }
            guard let jobID = best else { break }
            if !servesReservation, let better = betterWaitingNode(for: jobs[jobID]!.record.spec, than: node) {
                handoffs.insert(better)
                passedOver.insert(jobID)
                continue
            }
            let spec = jobs[jobID]!.record.spec
            // Taken out of the dictionary (and put back below) so that it is uniquely
            // referenced: changing a copy would copy all its task rows on every lease.
            var job = jobs.removeValue(forKey: jobID)!
            let index = nextRunnableIndex(of: &job, now: now)!
            lastAttemptID += 1
            let attemptID = AttemptID(lastAttemptID)
            var task = job.tasks[index] ?? TaskRecord(ref: TaskRef(job: jobID, index: index), state: .queued)
            task.attempts += 1
            task.state = .running
            task.currentAttempt = attemptID
            task.notBefore = nil
            job.tasks[index] = task
            job.running += 1
            job.waitingSince = now
            lastLeaseAt = now
            let gpus = Placement.gpuIndices(spec.resources.gpus, from: node.freeGPUs)
            node.freeGPUs.removeFirst(gpus.count)
            node.allocated = node.allocated + spec.resources
            node.active.insert(attemptID)
            var attempt = AttemptRecord(id: attemptID, task: task.ref, number: task.attempts, node: nodeID, allocation: spec.resources,
                                        gpuIndices: gpus, startedAt: now, costMicros: 0)
            attempt.meter = CostMeter(prices: node.record.prices, since: now)
            activeAttempts[attemptID] = attempt
            if job.record.state == .queued {
                job.record.state = .running
                job.record.startedAt = now
                mutations.append(.appendEvent(Event(subject: "job/\(jobID)", job: jobID, at: now, from: JobState.queued.rawValue,
                                                    to: JobState.running.rawValue, reason: "first task leased", actor: "coordinator")))
            }
            mutations.append(.putTask(task))
            mutations.append(.putAttempt(attempt))
            mutations.append(.appendEvent(Event(subject: "task/\(task.ref.job)/\(index)", job: jobID, at: now, from: TaskState.queued.rawValue,
                                                to: TaskState.running.rawValue, reason: "attempt \(task.attempts) (\(attemptID)) leased to \(node.record.name)",
                                                actor: "coordinator")))
            leases.append(Lease(attempt: attempt, spec: spec))
            hold(spec.resources, team: spec.team)
            jobs[jobID] = job
            if !job.hasPendingWork { removePending(jobID) }
            // The job row changed (cursor or state); write it once per job per batch.
            if let last = mutations.lastIndex(where: { if case .putJob(let r) = $0 { r.id == jobID } else { false } }) {
                mutations.remove(at: last)
            }
            mutations.append(.putJob(job.record))
        }
        nodes[nodeID] = node
        return (leases, mutations)
    }

    /// The best job with a task for `node` now: among jobs with a task due that fits the node
    /// and their team's quota and budget, the team with the smallest weighted dominant share
    /// first, then priority, then age. Each team's queue is in priority-then-age order, so its
    /// first such job is its best: this looks at one job per team unless jobs ahead of it do
    /// not fit. With `endingBy` (backfill), only jobs whose timeout ends a task by then count.
    private func bestJob(for node: NodeRuntime, capacity: Resources, now: Timestamp, endingBy end: Timestamp?,
                         passedOver: Set<JobID>, overBudget: inout [String: Bool]) -> JobID? {
        var best: (id: JobID, share: Double, priority: Int)?
        for (team, queue) in pendingByTeam {
            let share = dominantShare(of: team, capacity: capacity)
            if let current = best, current.share < share { continue }
            if overBudget[team] == nil { overBudget[team] = budgetStatus(of: team, now: now)?.exhausted ?? false }
            if overBudget[team]! { continue }
            let teamQuota = quota(of: team)
            let usage = teamUsage[team] ?? TeamUsage()
            for jobID in queue {
                let job = jobs[jobID]!
                let spec = job.record.spec
                guard spec.resources.fits(in: node.free), spec.resources.gpus <= node.freeGPUs.count,
                      spec.constraints.allSatisfy({ $0.matches(node.record.labels) }), hasDueTask(job, now: now),
                      teamQuota.refusal(holding: usage, plus: spec.resources) == nil, !passedOver.contains(jobID) else { continue }
                if let end {
                    guard let timeout = spec.timeoutMilliseconds, now.adding(milliseconds: timeout) <= end else { continue }
                }
                if let current = best, (current.share, -current.priority, current.id.rawValue) <= (share, -spec.priority, jobID.rawValue) { break }
                best = (jobID, share, spec.priority)
                break
            }
        }
        return best?.id
    }

    /// A node waiting for work that is a better home than `node` for a task of `spec` under
    /// `placement`, if there is one. Nodes reserved for a starving job do not count.
    private func betterWaitingNode(for spec: JobSpec, than node: NodeRuntime) -> NodeID? {
        guard !waitingNodes.isEmpty else { return nil }
        var best = node.placementCandidate
        for id in waitingNodes where reservations[id] == nil {
            guard let other = nodes[id], other.record.state.acceptsLeases else { continue }
            let candidate = other.placementCandidate
            guard Placement.fits(spec.resources, constraints: spec.constraints, on: candidate),
                  Placement.isBetter(candidate, than: best, for: spec.resources, strategy: placement) else { continue }
            best = candidate
        }
        return best.node == node.record.id ? nil : best.node
    }

    /// When a task needing `resources` could start on `node` if every attempt there ran to its
    /// timeout: the end of backfill. Nil when that cannot be known (an attempt without a
    /// timeout stands in the way), which allows no backfill.
    func reservedStart(of resources: Resources, on node: NodeRuntime, now: Timestamp) -> Timestamp? {
        var ends: [(end: Timestamp, allocation: Resources)] = []
        for id in node.active {
            guard let attempt = activeAttempts[id] else { continue }
            guard let timeout = jobs[attempt.task.job]?.record.spec.timeoutMilliseconds else { return nil }
            ends.append((attempt.startedAt.adding(milliseconds: timeout), attempt.allocation))
        }
        var free = node.free
        for (end, allocation) in ends.sorted(by: { $0.end < $1.end }) {
            free = free + allocation
            if resources.fits(in: free) { return max(end, now) }
        }
        return nil
    }

    /// Marks `node`'s agent as waiting in a long poll for work, so that leases weigh it as a
    /// home for tasks; its next lease clears the mark.
    public mutating func noteWaiting(_ node: NodeID) {
        if nodes[node]?.record.state.acceptsLeases == true { waitingNodes.insert(node) }
    }

    /// The waiting nodes leases passed work to since the last call, which the caller must wake.
    public mutating func takeHandoffs() -> Set<NodeID> {
        defer { handoffs = [] }
        return handoffs
    }

    /// The job `node` is reserved for, reserving it now for a starving job that could run on it:
    /// the first job in line of a team that has had no lease for `reserveAfterMilliseconds` while
    /// other work was leased (it is being passed over, not waiting for a full cluster), is not
    /// held back by its team's quota or budget, and fits the node's capacity (not necessarily
    /// what is free now). The node then takes no other work until that job's task
    /// fits — without this, a large task could wait forever while small ones keep the node busy.
    mutating func reservedJob(on nodeID: NodeID, now: Timestamp) -> JobID? {
        guard let after = reserveAfterMilliseconds, let node = nodes[nodeID] else { return nil }
        func canRun(_ id: JobID) -> Bool {
            guard let job = jobs[id], job.hasPendingWork else { return false }
            let spec = job.record.spec
            return spec.resources.fits(in: node.record.capacity) && spec.resources.gpus <= node.record.gpuIndices.count
                && spec.constraints.allSatisfy { $0.matches(node.record.labels) }
                && quota(of: spec.team).refusal(holding: teamUsage[spec.team] ?? TeamUsage(), plus: spec.resources) == nil
                && !(budgetStatus(of: spec.team, now: now)?.exhausted ?? false)
        }
        if let held = reservations[nodeID] {
            if canRun(held) { return held }
            reservations[nodeID] = nil
        }
        var starving: (id: JobID, since: Timestamp)?
        for queue in pendingByTeam.values {
            guard let head = queue.first, let job = jobs[head], now.milliseconds(since: job.waitingSince) >= after,
                  lastLeaseAt > job.waitingSince, hasDueTask(job, now: now),
                  starving.map({ (job.waitingSince, head) < ($0.since, $0.id) }) ?? true,
                  !reservations.contains(where: { $0.value == head && nodes[$0.key]?.record.state.acceptsLeases == true }),
                  canRun(head) else { continue }
            starving = (head, job.waitingSince)
        }
        guard let starving else { return nil }
        reservations[nodeID] = starving.id
        return starving.id
    }

    /// Whether a task of `job` could be leased now.
    private func hasDueTask(_ job: JobRuntime, now: Timestamp) -> Bool {
        job.hasUnstarted || job.retryQueue.contains { (job.tasks[$0]?.notBefore ?? now) <= now }
    }

    /// Adds (or, with `release`, removes) an allocation to a team's usage.
    mutating func hold(_ resources: Resources, team: String, release: Bool = false) {
        var usage = teamUsage[team] ?? TeamUsage()
        usage.allocated = release ? usage.allocated - resources : usage.allocated + resources
        usage.running += release ? -1 : 1
        teamUsage[team] = usage
    }

    /// The shard to lease next: a due retry first, else the next unstarted shard.
    private func nextRunnableIndex(of job: inout JobRuntime, now: Timestamp) -> Int? {
        if let position = job.retryQueue.firstIndex(where: { (job.tasks[$0]?.notBefore ?? now) <= now }) {
            return job.retryQueue.remove(at: position)
        }
        if job.hasUnstarted {
            defer { job.record.nextUnstarted += 1 }
            return job.record.nextUnstarted
        }
        return nil
    }

    /// The earliest instant a delayed retry becomes leasable, if any is waiting.
    public func nextRetryDue() -> Timestamp? {
        pendingJobs.lazy.compactMap { id -> Timestamp? in
            let job = self.jobs[id]!
            return job.retryQueue.compactMap { job.tasks[$0]?.notBefore }.min()
        }.min()
    }

    // MARK: - Reports

    /// Commits the outcome an agent reported for one of its attempts.
    public mutating func report(_ report: AttemptReport, from node: NodeID, now: Timestamp,
                                random: inout some RandomNumberGenerator) -> ReportResult {
        guard let attempt = activeAttempts[report.attempt] else { return .notActive }
        guard attempt.node == node else { return .wrongNode(owner: attempt.node) }
        guard report.outcome != .running, report.outcome != .lost else { return .invalid("an agent cannot report outcome '\(report.outcome.rawValue)'") }
        nodes[node]?.lastSeen = now
        var mutations: [Mutation] = []
        endAttempt(report.attempt, outcome: report.outcome, report: report, reason: report.reason ?? "reported by \(nodes[node]?.record.name ?? node.description)",
                   actor: "node/\(node)", now: now, random: &random, into: &mutations)
        return .accepted(mutations)
    }

    /// Ends an active attempt, frees its node's resources and decides the task's fate.
    ///
    /// With `requeueFree` (a budget hard stop) the task goes back to the queue without using any
    /// of its budgets; with `checkBudget` false the team's budget is not re-examined afterwards.
    mutating func endAttempt(_ id: AttemptID, outcome: AttemptState, report: AttemptReport?, reason: String, actor: String,
                             now: Timestamp, random: inout some RandomNumberGenerator, into mutations: inout [Mutation],
                             requeueFree: Bool = false, checkBudget: Bool = true) {
        guard var attempt = activeAttempts.removeValue(forKey: id) else { return }
        var outcome = outcome
        var reason = reason
        if outcome == .failed, let spec = jobs[attempt.task.job]?.record.spec, spec.retry.isCheckpoint(exitCode: report?.exitCode) {
            // The task saved a checkpoint and asked to be run again: it was not a failure.
            outcome = .preempted
            reason = "exited with checkpoint code \(report!.exitCode!)"
        }
        if var node = nodes[attempt.node] {
            node.allocated = node.allocated - attempt.allocation
            node.freeGPUs = (node.freeGPUs + attempt.gpuIndices).sorted()
            node.active.remove(id)
            nodes[attempt.node] = node
        }
        // Billed up to now: the report's arrival, or the moment the coordinator declared it lost.
        let booked = book(&attempt, until: now, into: &mutations)
        attempt.meter = nil
        if let team = jobs[attempt.task.job]?.record.spec.team { hold(attempt.allocation, team: team, release: true) }
        attempt.state = outcome
        attempt.endedAt = now
        attempt.exitCode = report?.exitCode
        attempt.signal = report?.signal
        attempt.peakRSSBytes = report?.peakRSSBytes
        attempt.progress = report?.progress ?? attempt.progress
        attempt.reason = reason
        mutations.append(.putAttempt(attempt))
        mutations.append(.appendEvent(Event(subject: "attempt/\(id)", job: attempt.task.job, at: now, from: AttemptState.running.rawValue,
                                            to: outcome.rawValue, reason: reason, actor: actor)))

        guard jobs[attempt.task.job]?.tasks[attempt.task.index] != nil else { return }
        // Taken out while it changes so that its task rows are not copied (see `lease`).
        var job = jobs.removeValue(forKey: attempt.task.job)!
        var task = job.tasks[attempt.task.index]!
        if outcome != .succeeded { job.wastedMicros += attempt.costMicros ?? 0 }
        let checkpointed = requeueFree || (outcome == .preempted && job.record.spec.retry.isCheckpoint(exitCode: report?.exitCode))
        switch outcome {
        case .failed, .timedOut: task.failures += 1
        case .lost, .preempted where !checkpointed: task.lost += 1
        default: break
        }
        job.noteForCircuitBreaker(outcome: outcome, exitCode: report?.exitCode, milliseconds: now.milliseconds(since: attempt.startedAt))
        var decision = job.record.spec.retry.decide(
            outcome: outcome, exitCode: report?.exitCode, failuresSoFar: task.failures, lostSoFar: task.lost,
            jobStillActive: !job.record.state.isTerminal, sample: Double.random(in: 0..<1, using: &random))
        if requeueFree, !job.record.state.isTerminal {
            decision = .retry(delayMilliseconds: 0, reason: "\(reason); requeued without using any budget, to run when the team's budget allows")
        }
        job.running -= 1
        let subject = "task/\(task.ref.job)/\(task.ref.index)"
        switch decision {
        case .retry(let delay, let why):
            task.state = .queued
            task.notBefore = now.adding(milliseconds: delay)
            job.retryQueue.append(task.ref.index)
            mutations.append(.appendEvent(Event(subject: subject, job: job.record.id, at: now, from: TaskState.running.rawValue,
                                                to: TaskState.queued.rawValue, reason: why, actor: "coordinator")))
        case .finish(let state, let why):
            task.state = state
            switch state {
            case .succeeded: job.succeeded += 1
            case .failed: job.failed += 1
            default: job.cancelled += 1
            }
            mutations.append(.appendEvent(Event(subject: subject, job: job.record.id, at: now, from: TaskState.running.rawValue,
                                                to: state.rawValue, reason: why, actor: "coordinator")))
        }
        job.tasks[task.ref.index] = task
        mutations.append(.putTask(task))
        jobs[job.record.id] = job
        if job.hasPendingWork { insertPending(job.record.id) }

        if case .finish(.failed, _) = decision, !job.record.state.isTerminal, job.failed > job.record.spec.maxFailedTasks {
            endJob(job.record.id, as: .failed, reason: "task \(task.ref.index) failed (\(job.failed) failed task(s), \(job.record.spec.maxFailedTasks) allowed)",
                   actor: "coordinator", now: now, into: &mutations)
        }
        if let breaker = job.record.spec.circuitBreaker, breaker.failures > 0, !job.record.state.isTerminal, !job.anySucceeded,
           job.fastFailureStreak >= breaker.failures {
            let code = job.streakExitCode.map { "exit code \($0)" } ?? "no exit code"
            endJob(job.record.id, as: .failed,
                   reason: "circuit breaker: \(job.fastFailureStreak) attempts in a row failed with \(code) in under \(Quantity.formatDuration(breaker.fastMilliseconds)) each; not retrying",
                   actor: "coordinator", now: now, into: &mutations)
        }
        completeJobIfDone(job.record.id, now: now, into: &mutations)
        if checkBudget, booked != 0 { enforceBudget(team: job.record.spec.team, now: now, random: &random, into: &mutations) }
    }

    /// Moves a job to a terminal state and cancels everything of it that waits in the queue.
    private mutating func endJob(_ id: JobID, as state: JobState, reason: String, actor: String, now: Timestamp, into mutations: inout [Mutation]) {
        guard var job = jobs[id] else { return }
        let old = job.record.state
        for index in job.retryQueue {
            guard var task = job.tasks[index] else { continue }
            task.state = .cancelled
            task.notBefore = nil
            job.tasks[index] = task
            mutations.append(.putTask(task))
        }
        job.cancelled += job.retryQueue.count + (job.record.spec.taskCount - job.record.nextUnstarted)
        job.retryQueue = []
        job.record.nextUnstarted = job.record.spec.taskCount
        job.record.state = state
        job.record.reason = reason
        job.record.endedAt = now
        jobs[id] = job
        removePending(id)
        mutations.append(.putJob(job.record))
        mutations.append(.appendEvent(Event(subject: "job/\(id)", job: id, at: now, from: old.rawValue, to: state.rawValue, reason: reason, actor: actor)))
    }

    private mutating func completeJobIfDone(_ id: JobID, now: Timestamp, into mutations: inout [Mutation]) {
        guard let job = jobs[id], !job.record.state.isTerminal, job.running == 0, job.queued == 0 else { return }
        let state: JobState = job.failed > 0 ? .failed : (job.cancelled > 0 ? .cancelled : .succeeded)
        let reason = state == .succeeded ? "all \(job.succeeded) task(s) succeeded"
            : "\(job.succeeded) succeeded, \(job.failed) failed, \(job.cancelled) cancelled"
        endJob(id, as: state, reason: reason, actor: "coordinator", now: now, into: &mutations)
    }

    // MARK: - Queue order

    private func isBefore(_ a: JobID, _ b: JobID) -> Bool {
        let pa = jobs[a]!.record.spec.priority, pb = jobs[b]!.record.spec.priority
        return pa != pb ? pa > pb : a < b
    }

    private mutating func insertPending(_ id: JobID) {
        guard !pendingJobs.contains(id) else { return }
        pendingJobs.insert(id, at: insertionPoint(of: id, in: pendingJobs))
        let team = jobs[id]!.record.spec.team
        var queue = pendingByTeam.removeValue(forKey: team) ?? []
        queue.insert(id, at: insertionPoint(of: id, in: queue))
        pendingByTeam[team] = queue
    }

    private func insertionPoint(of id: JobID, in queue: [JobID]) -> Int {
        var low = 0, high = queue.count
        while low < high {
            let mid = (low + high) / 2
            if isBefore(queue[mid], id) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private mutating func removePending(_ id: JobID) {
        pendingJobs.removeAll { $0 == id }
        guard let team = jobs[id]?.record.spec.team, var queue = pendingByTeam.removeValue(forKey: team) else { return }
        queue.removeAll { $0 == id }
        if !queue.isEmpty { pendingByTeam[team] = queue }
    }
}

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
public enum ReportResult: Sendable {
    case accepted([Mutation])
    /// The attempt holds no lease: it already ended (a duplicate or a stale report).
    case notActive
    /// The attempt is leased to another node.
    case wrongNode(owner: NodeID)
    case invalid(String)
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
