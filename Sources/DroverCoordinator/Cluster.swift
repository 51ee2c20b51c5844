import DroverAPI
import DroverCore
import DroverStore
import Foundation
import Logging
import Synchronization

/// The coordinator's state holder: the pure ``ClusterState`` behind a lock, the journal
/// that makes its changes durable, and the wake-ups of long-polling agents.
///
/// Every change follows one path, ``mutate(_:)``: the core returns a ``Transition``; its
/// mutations are appended to the journal under the lock; outside the lock, once the journal
/// has committed them, its effects run (polls woken, hand-offs, cancels); only then answer.
public final class Cluster: Sendable {
    let state: Mutex<ClusterState>
    let journal: Journal
    let store: any Store
    /// Whether the store takes writes; while it does not, nothing changes (503).
    let health: StoreHealth
    /// The wall clock the state's timestamps come from.
    let clock: any WallClock
    /// What waits and intervals are measured on (poll deadlines, the reaper's ticks).
    let monotonic: any MonotonicClock
    let wakeups: Wakeups
    /// Encodes the answers that carry leases.
    let leaseAnswers = LeaseAnswers()
    /// Seals secret env values at submit and opens them for agents' leases.
    let secrets: SecretSealer
    let configuration: CoordinatorConfiguration
    let logger: Logger
    /// When the reaper or a heartbeat last ran, to notice stalls of the coordinator's own.
    let stallDetector: StallDetector
    /// Set when the coordinator begins a graceful shutdown: held polls answer at once.
    let shuttingDown = Atomic<Bool>(false)
    /// Counted as transitions become durable (``MetricFacts``), rendered at `/metrics`.
    public let metrics: CoordinatorMetrics
    /// Registered webhooks; queues their deliveries in the commit of the change that caused them.
    let webhooks: WebhookHub

    init(state: ClusterState, store: any Store, journal: Journal, health: StoreHealth = StoreHealth(), clock: any WallClock,
         monotonic: any MonotonicClock = ContinuousClock(), configuration: CoordinatorConfiguration, secrets: SecretSealer = .ephemeral(),
         metrics: CoordinatorMetrics = CoordinatorMetrics(), webhooks: [WebhookRecord] = [], logger: Logger) {
        self.state = Mutex(state)
        self.metrics = metrics
        self.webhooks = WebhookHub(hooks: webhooks, clock: monotonic)
        self.secrets = secrets
        self.store = store
        self.journal = journal
        self.health = health
        self.clock = clock
        self.monotonic = monotonic
        self.wakeups = Wakeups(clock: monotonic)
        self.stallDetector = StallDetector(start: monotonic.now)
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs `change` on the state under the lock, appends its mutations to the journal, waits
    /// until they are durable, then runs its effects: the one place every change goes through.
    @discardableResult
    func mutate<T: Sendable>(_ change: (inout ClusterState, Timestamp) throws(ClusterError) -> Transition<T>) async throws -> T {
        // While the store refuses writes memory is about to be reloaded: change nothing.
        try requireStore()
        let now = clock.now()
        let (value, effects, ticket, facts, queued) = try state.withLock { state throws(ClusterError) in
            let transition = try change(&state, now)
            // The webhook outbox rows of its events commit together with it.
            let outbox = webhooks.outbox(for: transition.mutations, in: state, now: now)
            return (transition.value, transition.effects, journal.append(outbox.isEmpty ? transition.mutations : transition.mutations + outbox),
                    MetricFacts(transition.mutations, in: state), !outbox.isEmpty)
        }
        try await journal.waitDurable(ticket)
        metrics.record(facts)
        perform(effects)
        if ticket > 0 { webhooks.events.wakeAll() }
        if queued { webhooks.deliveries.wakeAll() }
        return value
    }

    /// Runs a durable transition's effects: wakes the polls they name (``WakeRule/polls(for:)``),
    /// which tells agents of hand-offs and of attempts to cancel.
    func perform(_ effects: Effects) {
        switch effects.polls {
        case .none: break
        case .nodes(let nodes): for node in nodes { wakeups.wake(node) }
        case .all: wakeups.wakeAll()
        }
    }

    // MARK: - Jobs

    func submit(_ spec: JobSpec, by actor: String) async throws -> JobRecord {
        try await submit(spec, by: actor, idempotencyKey: nil).record
    }

    /// Submits; with `idempotencyKey` the team used within 24 h, answers the first job (`replayed`).
    /// The job is kept with its secret values sealed.
    func submit(_ spec: JobSpec, by actor: String, idempotencyKey: String?) async throws -> (record: JobRecord, replayed: Bool) {
        let sealed = try secrets.sealed(spec)
        let (record, replayed) = try await mutate { state, now throws(ClusterError) -> Transition<(record: JobRecord, replayed: Bool)> in
            let kept = replayable(sealed, clear: spec, idempotencyKey: idempotencyKey, in: state)
            return try state.submit(kept, by: actor, idempotencyKey: idempotencyKey, now: now)
        }
        if replayed {
            // The first submission may still be committing: answer its job only once it is durable.
            try await journal.waitDurable(state.withLock { _ in journal.lastTicket })
            logger.info("job submit replayed", metadata: ["job.id": "\(record.id)", "idempotency.key": "\(idempotencyKey ?? "")"])
        } else {
            logger.info("job submitted", metadata: ["job.id": "\(record.id)", "job.tasks": "\(spec.taskCount)", "job.team": "\(spec.team)"])
        }
        return (record, replayed)
    }

    func cancel(_ id: JobID, by actor: String) async throws {
        // Agents holding attempts of the job hear about it on their open poll right away.
        try await mutate { state, now throws(ClusterError) in try state.cancel(id, by: actor, now: now) }
    }

    // MARK: - Agents

    /// Registers a machine whose agent presents the token with SHA-256 `tokenHash`.
    func register(_ node: NodeRegistration, tokenHash hash: String) async throws -> NodeRecord {
        let record = try await mutate { state, now throws(ClusterError) in
            var random = SystemRandomNumberGenerator()
            return state.register(name: node.name, capacity: node.capacity, gpuIndices: node.gpuIndices, labels: node.labels,
                                  prices: node.prices, taskIsolation: node.taskIsolation, tokenHash: hash, now: now, random: &random)
        }
        logger.info("node registered", metadata: ["node.id": "\(record.id)", "node.name": "\(record.name)"])
        return record
    }

    /// Notes that durable leases are being answered now: the orphan check counts from here, and
    /// the lease round trip (from `started`, the lease decision) ends here.
    func noteAnswered(_ leases: [Lease], since started: ContinuousClock.Instant) {
        guard !leases.isEmpty else { return }
        metrics.leaseAnswered(after: monotonic.now - started)
        let now = clock.now()
        state.withLock { $0.noteLeasesAnswered(leases.map(\.attempt.id), now: now) }
    }

    /// Leases work to `node`, waiting up to `wait` for some to appear.
    func poll(node: NodeID, maxLeases: Int, wait: Duration) async throws -> ([Lease], [AttemptID]) {
        let deadline = monotonic.now + wait
        var arriving = true
        // The agent this poll came from: once another registers under the node's name (the
        // agent restarted), this poll is a dead process's and must take no work.
        let incarnation = state.withLock { $0.pool.nodes[node]?.record.tokenHash }
        while true {
            let snapshot = wakeups.snapshot(for: node)
            let revive = arriving
            arriving = false
            let started = monotonic.now
            // Work this node passed over because a waiting node is a better home for it wakes that node.
            let (leased, cancels, now, superseded) = try await mutate { state, now throws(ClusterError) in
                guard state.pool.nodes[node]?.record.tokenHash == incarnation else { return Transition(([Lease](), [AttemptID](), now, true)) }
                // Only the request's arrival proves the agent alive: a poll held while its agent
                // died must not revive the node when it wakes up later.
                var transition = revive ? state.touch(node: node, now: now) : Transition()
                let leases = transition.absorb(state.lease(node: node, limit: maxLeases, now: now))
                return transition.map { _ in (leases, state.attemptsToCancel(on: node), now, false) }
            }
            let leases = try await openedForAgent(leased, of: node)
            noteAnswered(leases, since: started)
            if superseded || !leases.isEmpty || !cancels.isEmpty || monotonic.now >= deadline || Task.isCancelled
                || shuttingDown.load(ordering: .relaxed) {
                return (leases, cancels)
            }
            // A delayed retry becoming due wakes no one; bound the wait by it.
            var timeout = deadline - monotonic.now
            let retryDue = state.withLock { state in
                state.noteWaiting(node) // from now on, leases weigh this node as a home for their tasks
                return state.nextRetryDue()
            }
            if let due = retryDue {
                timeout = min(timeout, .milliseconds(max(1, due.milliseconds(since: now))))
            }
            await wakeups.wait(node: node, since: snapshot, timeout: timeout)
        }
    }

    /// A heartbeat of `node` naming the attempts it runs, with their latest progress.
    func heartbeat(node: NodeID, progress byID: [AttemptID: String?]) async throws -> (unknown: [AttemptID], cancel: [AttemptID]) {
        let orphanAge = configuration.leaseTTL.milliseconds
        // Queued heartbeats may be the first to run after a stall of the coordinator's own: the
        // stall is forgiven before they are judged, whichever of them or the reaper runs first.
        forgiveStall()
        // A heartbeat that changed anything (a node came back, tasks were requeued) wakes every poll.
        return try await mutate { state, now throws(ClusterError) in
            var random = SystemRandomNumberGenerator()
            return state.heartbeat(node: node, attempts: byID, now: now, orphanAfterMilliseconds: orphanAge, random: &random)
        }
    }

    /// The agent of `node` stops gracefully: its node is down at once, what it still held requeued.
    func leave(node: NodeID) async throws {
        try await mutate { state, now throws(ClusterError) in
            var random = SystemRandomNumberGenerator()
            return state.leave(node: node, now: now, random: &random)
        }
    }

    /// How often the lease reaper ticks; a gap of three periods without any tick or heartbeat
    /// means the coordinator itself did not run.
    var reaperPeriod: Duration { min(Duration.seconds(1), configuration.leaseTTL / 4, configuration.costBookingInterval) }

    /// Gives nodes back the time the coordinator itself did not run (a stall, not their silence),
    /// if it has not run for three reaper periods; returns the stall forgiven.
    @discardableResult
    func forgiveStall() -> Duration? {
        let now = monotonic.now
        guard let gap = stallDetector.gap(at: now, over: reaperPeriod * 3) else { return nil }
        let stall = gap - reaperPeriod
        let wallNow = clock.now()
        state.withLock { $0.forgiveSilence(milliseconds: stall.milliseconds, now: wallNow) }
        logger.warning("coordinator stalled; extending node leases by the stall", metadata: ["stall": "\(stall)"])
        return stall
    }

    /// Commits a batch of reports of one node; each gets its own verdict. With `maxLeases`,
    /// leases up to that many tasks to the node in the same commit (the capacity the reports
    /// freed is the node's own), so the agent needs no poll to get its next work.
    func report(_ reports: [AttemptReport], from node: NodeID, maxLeases: Int = 0) async throws -> (judgements: [ReportJudgement], leases: [Lease]) {
        let started = monotonic.now
        var judgements: [ReportJudgement?] = Array(repeating: nil, count: reports.count)
        // Capacity freed on this node is for this node's poll (unless the report took it
        // already); other nodes only when tasks were requeued or a team held back by its
        // quota or budget may now run more (`WakeRule.afterReports`).
        let (batch, now) = try await mutate { state, now throws(ClusterError) in
            var random = SystemRandomNumberGenerator()
            return state.report(reports, from: node, maxLeases: maxLeases, now: now, random: &random).map { ($0, now) }
        }
        var toCheck: [(position: Int, report: AttemptReport)] = []
        for (position, (report, result)) in zip(reports, batch.results).enumerated() {
            switch result {
            case .accepted: judgements[position] = .accepted
            case .notActive: toCheck.append((position, report))
            case .wrongNode(let owner): judgements[position] = .forbidden("attempt \(report.attempt.rawValue) is leased to node \(owner), not to you")
            case .invalid(let why): judgements[position] = .invalid(why)
            }
        }
        if !toCheck.isEmpty {
            // Reports of attempts without a lease are judged from the store below; it must first
            // hold every change memory already made (another request may have just ended them).
            try await journal.waitDurable(state.withLock { _ in journal.lastTicket })
        }
        // Reports of attempts without a lease: a resent report of a committed outcome is an
        // idempotent success; anything else is stale and is recorded, changing nothing.
        var staleEvents: [Mutation] = []
        for (position, report) in toCheck {
            let id = report.attempt
            let stored = try await queries.fromStore { try await $0.attempt(id) }
            if let stored, stored.node == node, stored.state == report.outcome, stored.exitCode == report.exitCode {
                judgements[position] = .duplicate("already committed as \(stored.state.rawValue)")
            } else if let stored, stored.node != node {
                judgements[position] = .forbidden("attempt \(id) was not leased to you")
            } else {
                let why = stored.map { "the lease of attempt \(id) ended as \($0.state.rawValue); this report (\(report.outcome.rawValue)) is stale" }
                    ?? "attempt \(id) does not exist"
                judgements[position] = .stale(why)
                staleEvents.append(.appendEvent(Event(subject: "attempt/\(id)", job: stored?.task.job, at: now, from: stored?.state.rawValue,
                                                      to: stored?.state.rawValue ?? "unknown", reason: "refused stale report: \(report.outcome.rawValue)",
                                                      actor: "node/\(node)")))
            }
        }
        if !staleEvents.isEmpty {
            try await mutate { _, _ throws(ClusterError) in Transition(mutations: staleEvents) }
        }
        let leases = try await openedForAgent(batch.leases, of: node)
        noteAnswered(leases, since: started)
        return (judgements.map { $0! }, leases)
    }

    /// Appends output of an active attempt held by `node`; refuses stale or foreign writes.
    func appendLog(attempt id: AttemptID, offset: Int64, data: [UInt8], from node: NodeID) async throws {
        let refusal = try await mutate { state, now throws(ClusterError) -> Transition<APIError?> in
            guard let attempt = state.activeAttempts[id] else {
                // A stale write: refused, and recorded like a stale report.
                let event = Event(subject: "attempt/\(id)", job: nil, at: now, from: nil, to: "refused",
                                  reason: "refused output written without a current lease", actor: "node/\(node)")
                return Transition(APIError.conflict("attempt \(id) holds no lease; its output is no longer accepted"), mutations: [.appendEvent(event)])
            }
            guard attempt.node == node else { return Transition(APIError.forbidden("attempt \(id) is not leased to this agent")) }
            return Transition(nil, mutations: [.appendLog(attempt: id, offset: offset, data: data)])
        }
        if let refusal { throw refusal }
    }

    /// Answers every held poll now and every later one at once, so shutdown does not wait for them.
    func beginShutdown() {
        shuttingDown.store(true, ordering: .relaxed)
        wakeups.wakeAll()
        webhooks.events.wakeAll() // ends the event streams
    }

    func setQuota(_ quota: Quota, team: String, by actor: String) async throws {
        try await mutate { state, now throws(ClusterError) in state.setQuota(quota, for: team, by: actor, now: now) }
    }

    /// Applied under the lock, to the quota in force then: two patches never lose each other's fields.
    func patchQuota(_ patch: QuotaPatch, team: String, by actor: String) async throws {
        try await mutate { state, now throws(ClusterError) in try state.patchQuota(patch, for: team, by: actor, now: now) }
    }

    /// Creates a team token; returns its record and the secret, which is not stored.
    func createToken(role: TokenRole, team: String?, by actor: String) async throws -> (TokenRecord, String) {
        let secret = TokenHash.generate(prefix: role == .admin ? "dra_" : "drt_")
        let id = "tok-" + TokenHash.generate(prefix: "").prefix(10).lowercased()
        let record = TokenRecord(id: id, hash: TokenHash.hex(secret), role: role, team: team, createdAt: clock.now(), createdBy: actor)
        try await mutate { state, _ throws(ClusterError) in state.addToken(record) }
        return (record, secret)
    }

    func revokeToken(id: String, by actor: String) async throws {
        try await mutate { state, now throws(ClusterError) in try state.revokeToken(id: id, by: actor, now: now) }
    }

    func revokeNode(_ id: NodeID, by actor: String) async throws {
        try await mutate { state, now throws(ClusterError) in
            var random = SystemRandomNumberGenerator()
            return try state.revokeNode(id, by: actor, now: now, random: &random)
        }
    }

    /// Declares silent nodes down. Run periodically by the lease reaper.
    func expireSilentNodes() async throws {
        let ttl = configuration.leaseTTL.milliseconds
        try await mutate { state, now throws(ClusterError) in
            var random = SystemRandomNumberGenerator()
            var transition = state.expireSilentNodes(now: now, ttlMilliseconds: ttl, random: &random)
            transition.absorb(state.enforceDrainDeadlines(now: now, random: &random))
            return transition
        }
    }

    func setNodeState(_ id: NodeID, to nodeState: NodeState, by actor: String, drainAfter: Duration? = nil) async throws {
        try await mutate { state, now throws(ClusterError) in
            let deadline = drainAfter.map { now.adding(milliseconds: $0.milliseconds) }
            return try state.setNodeState(id, to: nodeState, by: actor, now: now, drainDeadline: deadline)
        }
    }
}

/// Remembers when the coordinator last ran its periodic work, to tell a stall of its own (a
/// freeze, a long fsync, a suspended machine) from the silence of nodes.
final class StallDetector: Sendable {
    private let last: Mutex<ContinuousClock.Instant>

    init(start: ContinuousClock.Instant) {
        last = Mutex(start)
    }

    /// The time since the last call if it is more than `threshold` (a stall), else nil; either way `now` becomes the last call.
    func gap(at now: ContinuousClock.Instant, over threshold: Duration) -> Duration? {
        last.withLock { last in
            defer { last = max(last, now) }
            let gap = now - last
            return gap > threshold ? gap : nil
        }
    }
}
