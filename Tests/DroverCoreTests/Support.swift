import DroverCore
import DroverTesting
import Testing


let MiB: Int64 = 1 << 20
let GiB: Int64 = 1 << 30

func makeSpec(
    name: String = "job", team: String = "ml", kind: JobKind = .training, tasks: Int = 1, cpu: Int64 = 1000,
    memory: Int64 = 512 << 20, gpus: Int = 0, priority: Int = 0, constraints: [String] = [],
    retry: RetryPolicy = RetryPolicy(backoff: .init(jitter: 0)), maxFailedTasks: Int = 0
) -> JobSpec {
    JobSpec(name: name, team: team, kind: kind, taskCount: tasks, command: ["/bin/true"],
            resources: Resources(millicores: cpu, memoryBytes: memory, gpus: gpus), priority: priority,
            constraints: constraints.map { Constraint(parsing: $0)! }, retry: retry, maxFailedTasks: maxFailedTasks)
}

extension Mutation {
    var job: JobRecord? { if case .putJob(let r) = self { r } else { nil } }
    var task: TaskRecord? { if case .putTask(let r) = self { r } else { nil } }
    var attempt: AttemptRecord? { if case .putAttempt(let r) = self { r } else { nil } }
    var node: NodeRecord? { if case .putNode(let r) = self { r } else { nil } }
    var event: Event? { if case .appendEvent(let e) = self { e } else { nil } }
}

/// Drives a ``ClusterState`` with an explicit clock and seeded randomness, and keeps
/// every mutation it returned (what the coordinator would have persisted).
struct Harness {
    var state: ClusterState
    var random: SplitMix64
    var now = Timestamp(milliseconds: 1_700_000_000_000)
    var mutations: [Mutation] = []
    /// Waiting nodes that leases handed work to, collected from their transitions' effects.
    var handoffs: Set<NodeID> = []

    init(seed: UInt64 = 42, policy: ClusterPolicy = ClusterPolicy()) {
        state = ClusterState(policy: policy)
        random = SplitMix64(seed: seed)
    }

    mutating func advance(_ ms: Int64) { now = now.adding(milliseconds: ms) }

    /// A heartbeat of `node` holding `attempts`; attempts it does not hold are lost after 20 s.
    mutating func heartbeat(_ node: NodeID, _ attempts: [AttemptID: String?]) -> (unknown: [AttemptID], cancel: [AttemptID]) {
        let transition = state.heartbeat(node: node, attempts: attempts, now: now, orphanAfterMilliseconds: 20_000, random: &random)
        mutations += transition.mutations
        return transition.value
    }

    @discardableResult
    mutating func submit(_ spec: JobSpec) throws -> JobID {
        let transition = try state.submit(spec, by: "alice", now: now)
        mutations += transition.mutations
        return transition.value.id
    }

    @discardableResult
    mutating func register(_ name: String, cpu: Int64 = 4000, memory: Int64 = 8 << 30, gpus: [Int] = [],
                           labels: [String: String] = [:], prices: Prices = Prices()) -> NodeID {
        let transition = state.register(
            name: name, capacity: Resources(millicores: cpu, memoryBytes: memory, gpus: gpus.count), gpuIndices: gpus,
            labels: labels, prices: prices, tokenHash: "hash-\(name)-\(now.milliseconds)", now: now, random: &random)
        mutations += transition.mutations
        return transition.value.id
    }

    mutating func lease(_ node: NodeID, limit: Int = 1000) -> [AttemptRecord] {
        let transition = state.lease(node: node, limit: limit, now: now)
        mutations += transition.mutations
        state.noteLeasesAnswered(transition.value.map(\.attempt.id), now: now)  // as the shell does once durable
        handoffs.formUnion(transition.effects.handoffs)
        return transition.value.map(\.attempt)
    }

    /// The waiting nodes leases handed work to since the last call.
    mutating func takeHandoffs() -> Set<NodeID> {
        defer { handoffs = [] }
        return handoffs
    }

    @discardableResult
    mutating func report(_ attempt: AttemptID, _ outcome: AttemptState, exitCode: Int32? = nil, from node: NodeID? = nil) -> Transition<ReportResult> {
        let owner = node ?? state.activeAttempts[attempt]?.node ?? NodeID(1)
        let transition = state.report(AttemptReport(attempt: attempt, outcome: outcome, exitCode: exitCode), from: owner, now: now, random: &random)
        mutations += transition.mutations
        return transition
    }

    mutating func expire(ttl: Int64) -> [Mutation] {
        let m = state.expireSilentNodes(now: now, ttlMilliseconds: ttl, random: &random).mutations
        mutations += m
        return m
    }

    mutating func cancel(_ job: JobID) throws {
        mutations += try state.cancel(job, by: "alice", now: now).mutations
    }

    func job(_ id: JobID) -> ClusterState.JobRuntime { state.jobs[id]! }

    /// A task row: from memory while the job holds its rows, else as last written to the store
    /// (a finished job's rows are only there).
    func task(_ id: JobID, _ index: Int) -> TaskRecord? {
        if let row = state.jobs[id]?.tasks[index] { return row }
        return mutations.reversed().lazy.compactMap(\.task).first { $0.ref == TaskRef(job: id, index: index) }
    }
}

extension Transition<ReportResult> {
    var isAccepted: Bool { value.isAccepted }
    var isNotActive: Bool { value.isNotActive }
}

extension ReportResult {
    var isAccepted: Bool { if case .accepted = self { true } else { false } }
    var isNotActive: Bool { if case .notActive = self { true } else { false } }
}
