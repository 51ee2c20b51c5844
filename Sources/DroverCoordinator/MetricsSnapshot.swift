import DroverCore

/// The gauges of `/metrics`, computed from live state at scrape time rather than kept up to
/// date on every change: nothing on the lease path pays for them. Pure; one pass over the
/// jobs memory holds, one over the nodes, one over the teams.
struct MetricsSnapshot: Equatable, Sendable {
    /// Label values, in the family's label order → value.
    typealias Series = [[String]: Double]

    private(set) var values: [MetricFamily: Series] = [:]

    subscript(family: MetricFamily) -> Series { values[family] ?? [:] }

    init(state: borrowing ClusterState, storeAvailable: Bool, now: Timestamp) {
        var teams = Set(state.quotas.keys)
        var jobs: Series = [:], tasks: Series = [:], pending: Series = [:]
        var causes = PendingClassifier(state: state, now: now)
        for job in state.jobs.values {
            let team = job.record.spec.team
            teams.insert(team)
            jobs[[team, job.record.state.rawValue], default: 0] += 1
            for (taskState, count) in [(TaskState.queued, job.queued), (.running, job.running), (.succeeded, job.succeeded),
                                       (.failed, job.failed), (.cancelled, job.cancelled)] where count > 0 {
                tasks[[team, taskState.rawValue], default: 0] += Double(count)
            }
            if !job.record.state.isTerminal, job.queued > 0 {
                pending[[team, causes.cause(of: job, in: state).rawValue], default: 0] += Double(job.queued)
            }
        }
        // Every reason of every team is a series, so an alert can compare them without `or`.
        for team in teams { for cause in PendingCause.allCases { pending[[team, cause.rawValue], default: 0] += 0 } }
        values[.jobs] = jobs
        values[.tasks] = tasks
        values[.pendingTasks] = pending
        addNodes(of: state)
        addTeams(teams, of: state, now: now)
        values[.storeAvailable] = [[]: storeAvailable ? 1 : 0]
    }

    private mutating func addNodes(of state: borrowing ClusterState) {
        var nodes: Series = Dictionary(uniqueKeysWithValues: NodeState.allCases.map { ([$0.rawValue], 0) })
        var capacity = Resources.zero, allocated = Resources.zero
        for node in state.nodes.values {
            nodes[[node.record.state.rawValue], default: 0] += 1
            if node.record.state != .down { capacity = capacity + node.record.capacity }
            allocated = allocated + node.allocated
        }
        values[.nodes] = nodes
        values[.nodeCapacity] = Self.series(of: capacity)
        values[.nodeAllocated] = Self.series(of: allocated)
    }

    private mutating func addTeams(_ teams: Set<String>, of state: borrowing ClusterState, now: Timestamp) {
        var limit: Series = [:], usage: Series = [:], share: Series = [:], spend: Series = [:], budget: Series = [:]
        for team in teams {
            let quota = state.quota(of: team)
            let held = state.teamUsage[team] ?? TeamUsage()
            let limits: [(MetricResource, Double?)] = [
                (.cpu, quota.millicores.map { Double($0) / 1000 }), (.memory, quota.memoryBytes.map(Double.init)),
                (.gpu, quota.gpus.map(Double.init)), (.tasks, quota.runningTasks.map(Double.init)),
            ]
            for (resource, value) in limits { if let value { limit[[team, resource.rawValue]] = value } }
            for (resource, value) in Self.amounts(of: held.allocated) { usage[[team, resource.rawValue]] = value }
            usage[[team, MetricResource.tasks.rawValue]] = Double(held.running)
            share[[team]] = state.dominantShare(of: team)
            if let status = state.budgetStatus(of: team, now: now) {
                spend[[team]] = Double(status.spentMicros) / 1_000_000
                budget[[team]] = Double(status.budget.amountMicros) / 1_000_000
            }
        }
        values[.quotaLimit] = limit
        values[.quotaUsage] = usage
        values[.teamDominantShare] = share
        values[.budgetSpend] = spend
        values[.budgetLimit] = budget
    }

    private static func amounts(of resources: Resources) -> [(MetricResource, Double)] {
        [(.cpu, Double(resources.millicores) / 1000), (.memory, Double(resources.memoryBytes)), (.gpu, Double(resources.gpus))]
    }

    private static func series(of resources: Resources) -> Series {
        Dictionary(uniqueKeysWithValues: amounts(of: resources).map { ([$0.0.rawValue], $0.1) })
    }
}

/// Sorts a live job's queued tasks into one ``PendingCause``, in the order
/// `Cluster.pendingReason` (what `drover job show` says) checks them. Which ready nodes
/// match a job's constraints and size is worked out once per distinct (constraints,
/// resources), so a scrape of many similar jobs looks at the nodes a few times only.
struct PendingClassifier {
    private let ready: [ClusterState.NodeRuntime]
    private let now: Timestamp
    private var placeable: [Shape: PendingCause?] = [:]
    private var exhaustedBudget: [String: Bool] = [:]

    private struct Shape: Hashable {
        var constraints: [Constraint]
        var resources: Resources
    }

    init(state: borrowing ClusterState, now: Timestamp) {
        ready = state.nodes.values.filter { $0.record.state == .ready }
        self.now = now
    }

    mutating func cause(of job: ClusterState.JobRuntime, in state: borrowing ClusterState) -> PendingCause {
        let spec = job.record.spec
        if let cause = placement(of: Shape(constraints: spec.constraints, resources: spec.resources)) { return cause }
        if state.quota(of: spec.team).refusal(holding: state.teamUsage[spec.team] ?? TeamUsage(), plus: spec.resources) != nil { return .quota }
        if budgetExhausted(spec.team, in: state) { return .budget }
        if !job.hasUnstarted, let due = job.retryQueue.compactMap({ job.tasks[$0]?.notBefore }).min(), due > now { return .backoff }
        return .capacity
    }

    /// Why no ready node could ever take the shape (none ready or large enough: capacity;
    /// none matching: constraints), or nil when some could.
    private mutating func placement(of shape: Shape) -> PendingCause? {
        if let known = placeable[shape] { return known }
        let matching = ready.filter { node in shape.constraints.allSatisfy { $0.matches(node.record.labels) } }
        let cause: PendingCause?
        if ready.isEmpty { cause = .capacity }
        else if matching.isEmpty { cause = .constraints }
        else if !matching.contains(where: { shape.resources.fits(in: $0.record.capacity) }) { cause = .capacity }
        else { cause = nil }
        placeable[shape] = .some(cause)
        return cause
    }

    private mutating func budgetExhausted(_ team: String, in state: borrowing ClusterState) -> Bool {
        if let known = exhaustedBudget[team] { return known }
        let exhausted = state.budgetStatus(of: team, now: now)?.exhausted ?? false
        exhaustedBudget[team] = exhausted
        return exhausted
    }
}
