/// Placement decisions, pure: which job a node should take next, whether a node waiting for
/// work is a better home for it, which starving job a node should be reserved for, and until
/// when backfill may run. Reads the queue, the pool, the teams' quotas and the books; changes
/// nothing. ``ClusterState/lease(node:limit:now:)`` runs these steps and commits what they choose.
enum Scheduler {
    /// Whether `team`'s budget is spent for the period containing `now`.
    static func budgetExhausted(_ team: String, teams: TeamQuotas, accounting: Accounting, now: Timestamp) -> Bool {
        accounting.status(of: team, budget: teams.quota(of: team).budget, now: now)?.exhausted ?? false
    }

    // MARK: - Choice

    /// The best job with a task for `node` now: among jobs with a task due that fits the node
    /// and their team's quota and budget, the team with the smallest weighted dominant share
    /// first, then priority, then age. Each team's queue is in priority-then-age order, so its
    /// first such job is its best: this looks at one job per team unless jobs ahead of it do
    /// not fit. With `endingBy` (backfill), only jobs whose timeout ends a task by then count.
    static func bestJob(for node: ClusterState.NodeRuntime, queue: JobQueue, teams: TeamQuotas, accounting: Accounting,
                        capacity: Resources, now: Timestamp, endingBy end: Timestamp?, passedOver: Set<JobID>,
                        overBudget: inout [String: Bool]) -> JobID? {
        var best: (id: JobID, share: Double, priority: Int)?
        for (team, pending) in queue.pendingByTeam {
            let share = teams.dominantShare(of: team, capacity: capacity)
            if let current = best, current.share < share { continue }
            if overBudget[team] == nil { overBudget[team] = budgetExhausted(team, teams: teams, accounting: accounting, now: now) }
            if overBudget[team]! { continue }
            let teamQuota = teams.quota(of: team)
            let usage = teams.usage[team] ?? TeamUsage()
            for jobID in pending {
                let job = queue.jobs[jobID]!
                let spec = job.record.spec
                guard spec.resources.fits(in: node.free), spec.resources.gpus <= node.freeGPUs.count,
                      spec.constraints.allSatisfy({ $0.matches(node.record.labels) }), job.hasDueTask(now: now),
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

    // MARK: - Hand-off

    /// A node waiting for work that is a better home than `node` for a task of `spec` under
    /// `strategy`, if there is one. Nodes reserved for a starving job do not count.
    static func betterWaitingNode(for spec: JobSpec, than node: ClusterState.NodeRuntime, pool: NodePool, strategy: PlacementStrategy) -> NodeID? {
        guard !pool.waitingNodes.isEmpty else { return nil }
        var best = node.placementCandidate
        for id in pool.waitingNodes where pool.reservations[id] == nil {
            guard let other = pool.nodes[id], other.record.state.acceptsLeases else { continue }
            let candidate = other.placementCandidate
            guard Placement.fits(spec.resources, constraints: spec.constraints, on: candidate),
                  Placement.isBetter(candidate, than: best, for: spec.resources, strategy: strategy) else { continue }
            best = candidate
        }
        return best.node == node.record.id ? nil : best.node
    }

    // MARK: - Reservation and backfill

    /// Whether `id` could run on `node` once enough of it is free: it has pending work, fits
    /// the node's capacity (not necessarily what is free now), and is not held back by its
    /// team's quota or budget.
    static func canRun(_ id: JobID, on node: ClusterState.NodeRuntime, queue: JobQueue, teams: TeamQuotas, accounting: Accounting,
                       now: Timestamp) -> Bool {
        guard let job = queue.jobs[id], job.hasPendingWork else { return false }
        let spec = job.record.spec
        return spec.resources.fits(in: node.record.capacity) && spec.resources.gpus <= node.record.gpuIndices.count
            && spec.constraints.allSatisfy { $0.matches(node.record.labels) }
            && teams.refusal(team: spec.team, plus: spec.resources) == nil
            && !budgetExhausted(spec.team, teams: teams, accounting: accounting, now: now)
    }

    /// The starving job to reserve `node` for: the first job in line of a team that has had no
    /// lease for `after` milliseconds while other work was leased (it is being passed over, not
    /// waiting for a full cluster), has a task due, is not reserved a ready node already and
    /// ``canRun(_:on:queue:teams:accounting:now:)`` on this node; the one waiting longest.
    static func starvingJob(for node: ClusterState.NodeRuntime, after: Int64, queue: JobQueue, pool: NodePool, teams: TeamQuotas,
                            accounting: Accounting, now: Timestamp) -> JobID? {
        var starving: (id: JobID, since: Timestamp)?
        for pending in queue.pendingByTeam.values {
            guard let head = pending.first, let job = queue.jobs[head], now.milliseconds(since: job.waitingSince) >= after,
                  queue.lastLeaseAt > job.waitingSince, job.hasDueTask(now: now),
                  starving.map({ (job.waitingSince, head) < ($0.since, $0.id) }) ?? true,
                  !pool.reservations.contains(where: { $0.value == head && pool.nodes[$0.key]?.record.state.acceptsLeases == true }),
                  canRun(head, on: node, queue: queue, teams: teams, accounting: accounting, now: now) else { continue }
            starving = (head, job.waitingSince)
        }
        return starving?.id
    }

    /// When a task needing `resources` could start on `node` if every attempt there ran to its
    /// timeout: the end of backfill. Nil when that cannot be known (an attempt without a
    /// timeout stands in the way), which allows no backfill.
    static func reservedStart(of resources: Resources, on node: ClusterState.NodeRuntime, pool: NodePool, queue: JobQueue,
                              now: Timestamp) -> Timestamp? {
        var ends: [(end: Timestamp, allocation: Resources)] = []
        for id in node.active {
            guard let attempt = pool.activeAttempts[id] else { continue }
            guard let timeout = queue.jobs[attempt.task.job]?.record.spec.timeoutMilliseconds else { return nil }
            ends.append((attempt.startedAt.adding(milliseconds: timeout), attempt.allocation))
        }
        var free = node.free
        for (end, allocation) in ends.sorted(by: { $0.end < $1.end }) {
            free = free + allocation
            if resources.fits(in: free) { return max(end, now) }
        }
        return nil
    }
}
