extension ClusterState {
    // MARK: - Estimates

    /// What `spec` would cost at most: each task's resources at the rates of the most expensive
    /// node that could run it, for `expectedDuration` or else `timeout`, times the task count.
    /// The most expensive, because admission cannot know where a task will land: pack and
    /// spread ignore price, and cheapest takes the cheapest node free at lease time, which may
    /// be any of them. So a task that runs no longer than that is never charged more.
    public func estimate(_ spec: JobSpec, now: Timestamp) -> CostEstimate {
        let budget = budgetStatus(of: spec.team, now: now)
        guard let duration = spec.expectedDurationMilliseconds ?? spec.timeoutMilliseconds else {
            return CostEstimate(basis: "no estimate: the job gives neither expectedDuration nor timeout", budget: budget)
        }
        let candidates = pool.nodes.values.filter { node in
            node.record.state != .down && spec.resources.fits(in: node.record.capacity)
                && spec.constraints.allSatisfy { $0.matches(node.record.labels) }
        }
        let priced = candidates.map { (node: $0.record, cost: $0.record.prices.cost(of: spec.resources, milliseconds: duration)) }
        // Highest cost first, then the lower node id, so the figure does not depend on dictionary order.
        guard let dearest = priced.min(by: { ($1.cost, $0.node.id) < ($0.cost, $1.node.id) }),
              let cheapest = priced.min(by: { ($0.cost, $0.node.id) < ($1.cost, $1.node.id) }) else {
            return CostEstimate(durationMilliseconds: duration, basis: "no estimate: no node that is up could run the job's tasks", budget: budget)
        }
        let total = Int64(clamping: Int128(dearest.cost) * Int128(spec.taskCount))
        let which = spec.expectedDurationMilliseconds != nil ? "expectedDuration" : "timeout"
        var basis = "\(spec.taskCount) task(s) × \(spec.resources) × \(Quantity.formatDuration(duration)) (\(which)) at the rates of \(dearest.node.name), the most expensive node that can run it"
        if cheapest.cost < dearest.cost {
            let low = Int64(clamping: Int128(cheapest.cost) * Int128(spec.taskCount))
            basis += " (\(Money.format(low)) \(policy.currency) if every task ran on \(cheapest.node.name), the cheapest)"
        }
        return CostEstimate(totalMicros: total, perTaskMicros: dearest.cost, durationMilliseconds: duration, basis: basis, budget: budget)
    }

    // MARK: - Admission against the budget

    /// The estimate to reserve for `spec` against its team's budget (nil: nothing to reserve,
    /// because the team has no budget or its hard stop bounds an unbounded job), or why the
    /// budget refuses it.
    func budgetAdmission(_ spec: JobSpec, now: Timestamp) throws(ClusterError) -> Int64? {
        // The estimate looks at every node: only worth it when the team has a budget.
        guard quota(of: spec.team).budget != nil else { return nil }
        let estimate = estimate(spec, now: now)
        if let refusal = budgetRefusal(team: spec.team, estimate: estimate) { throw .overBudget(refusal) }
        return estimate.totalMicros
    }

    /// Why the team's budget refuses a job with this estimate, or nil if it admits it. A job is
    /// admitted when its estimate fits in what is left once the team's admitted jobs have their
    /// reservations (`availableMicros`); one whose cost cannot be bounded only under a hard stop,
    /// which bounds it, and only while something is left that is not reserved.
    public func budgetRefusal(team: String, estimate: CostEstimate) -> String? {
        guard let status = estimate.budget else { return nil }
        let currency = policy.currency
        var left = "\(Money.format(max(0, status.availableMicros))) \(currency) left until \(status.resets)"
        if status.reservedMicros > 0 {
            left += " (\(Money.format(max(0, status.remainingMicros))) unspent, less \(Money.format(status.reservedMicros)) reserved by the team's admitted jobs)"
        }
        let cost = estimate.totalMicros.map { "\(Money.format($0)) \(currency) (\(estimate.basis))" } ?? "unknown (\(estimate.basis))"
        if status.exhausted {
            return "team \(team) has exhausted its budget (\(describe(status))); \(left); this job's estimated cost is \(cost)"
        }
        guard let total = estimate.totalMicros else {
            if status.budget.hardStop {
                guard status.availableMicros <= 0 else { return nil }
                return "nothing of team \(team)'s budget is left that its admitted jobs do not reserve: \(left) (\(describe(status))); this job's estimated cost is \(cost)"
            }
            guard estimate.durationMilliseconds != nil else {
                return "this job's cost cannot be bounded: it gives neither a timeout nor an expectedDuration, and team \(team) has a budget (\(describe(status))); give it one (`drover submit --timeout 2h`, or `timeout:` or `expectedDuration:` in the spec), or give the budget a hard stop (`drover quota set \(team) --budget-hard-stop`)"
            }
            return "this job's cost cannot be estimated (\(estimate.basis)), and team \(team) has a budget (\(describe(status))); submit it again once a node that can run it is up"
        }
        if total > status.availableMicros {
            return "this job's estimated cost \(cost) is more than what is left of team \(team)'s budget: \(left) (\(describe(status)))"
        }
        return nil
    }

    // MARK: - Reservations

    /// Brings job `id`'s reservation in line with what it has booked: its estimate less its
    /// cost while it can still spend (live, or ended with attempts still running), else nothing.
    /// Called wherever a job's cost or state changes, so a team's reservation is always the sum
    /// over its jobs, and a function of the live jobs alone: a restart derives it again.
    mutating func settleReservation(of id: JobID) {
        guard let job = queue.jobs[id] else { return }
        let canSpend = !job.record.state.isTerminal || job.running > 0
        let held = canSpend ? max(0, (job.estimateMicros ?? 0) - job.costMicros) : 0
        let before = job.reservedMicros
        guard held != before else { return }
        accounting.reserve(held - before, team: job.record.spec.team)
        queue.jobs[id]!.reservedMicros = held
    }

    /// Estimates again the jobs (of `team`, or all) that can still spend and reserves that
    /// against their team's budget, or nothing where the team has none. At start (what was
    /// reserved is not stored) and when a team's budget comes or goes.
    mutating func reestimateLiveJobs(of team: String? = nil, now: Timestamp) {
        let ids = queue.jobs.values.filter { job in
            (team == nil || job.record.spec.team == team) && (!job.record.state.isTerminal || job.running > 0)
        }.map(\.record.id)
        for id in ids {
            let spec = queue.jobs[id]!.record.spec
            queue.jobs[id]!.estimateMicros = quota(of: spec.team).budget == nil ? nil : estimate(spec, now: now).totalMicros
            settleReservation(of: id)
        }
    }
}
