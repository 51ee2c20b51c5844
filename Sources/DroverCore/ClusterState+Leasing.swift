extension ClusterState {
    // MARK: - Leasing

    /// Leases up to `limit` tasks that fit the free resources of `node`, best job first.
    ///
    /// A task goes elsewhere when a node now waiting for work is a better home for it under
    /// the placement policy: the lease passes that job over and names the better node in the
    /// effects' `handoffs`, for the shell to wake. A node reserved for a starving job takes that job when
    /// it fits, and meanwhile only tasks that end before it could (backfill).
    ///
    /// The steps: reserve (``reservationStep(on:now:)``), then per task choose
    /// (``choose(for:round:now:)``: the reserved job, backfill or the best job), hand off to a
    /// better waiting node, or grant (``grant(_:on:now:into:)``).
    public mutating func lease(node nodeID: NodeID, limit: Int, now: Timestamp) -> Transition<[Lease]> {
        pool.stopWaiting(nodeID)
        guard pool.nodes[nodeID]?.record.state.acceptsLeases == true, limit > 0 else { return Transition([]) }
        var round = LeaseRound(capacity: pool.readyCapacity, reserved: reservationStep(on: nodeID, now: now))
        // Taken out of the pool (and put back below) so that it is uniquely referenced: changing
        // a copy would copy its attempt set and GPU list on every lease. The steps below read
        // only other nodes from the pool (this one is no longer waiting, so never a hand-off target).
        var node = pool.nodes.removeValue(forKey: nodeID)!
        node.lastSeen = now
        var leases: [Lease] = []
        var mutations: [Mutation] = []
        while leases.count < limit, let choice = choose(for: node, round: &round, now: now) {
            if !choice.servesReservation,
               let better = Scheduler.betterWaitingNode(for: queue.jobs[choice.job]!.record.spec, than: node, pool: pool, strategy: policy.placement) {
                round.handoffs.insert(better)
                round.passedOver.insert(choice.job)
                continue
            }
            leases.append(grant(choice.job, on: &node, now: now, into: &mutations))
        }
        pool.nodes[nodeID] = node
        return Transition(leases, mutations: mutations, effects: Effects(handoffs: round.handoffs))
    }

    /// What one call of ``lease(node:limit:now:)`` carries from task to task.
    struct LeaseRound {
        /// Capacity of the ready nodes, for dominant shares.
        var capacity: Resources
        /// The starving job the node is reserved for, until it is served.
        var reserved: JobID?
        /// The end of backfill on the reserved node, computed once (nil inside: no backfill).
        var backfillEnd: Timestamp??
        /// Jobs handed to a better waiting node in this round.
        var passedOver: Set<JobID> = []
        var overBudget: [String: Bool] = [:]
        /// The waiting nodes work was handed to.
        var handoffs: Set<NodeID> = []
    }

    /// Step 1, reservation: the job `node` is reserved for, reserving it now for a starving job
    /// that could run on it (``Scheduler/starvingJob(for:after:queue:pool:teams:accounting:now:)``).
    /// The node then takes no other work until that job's task fits — without this, a large task
    /// could wait forever while small ones keep the node busy.
    mutating func reservationStep(on nodeID: NodeID, now: Timestamp) -> JobID? {
        guard let after = policy.reserveAfterMilliseconds, let node = pool.nodes[nodeID] else { return nil }
        if let held = pool.reservations[nodeID] {
            if Scheduler.canRun(held, on: node, queue: queue, teams: teams, accounting: accounting, now: now) { return held }
            pool.reservations[nodeID] = nil
        }
        guard let starving = Scheduler.starvingJob(for: node, after: after, queue: queue, pool: pool, teams: teams,
                                                   accounting: accounting, now: now) else { return nil }
        pool.reservations[nodeID] = starving
        return starving
    }

    /// Step 2, choice: the job whose task `node` takes next. On a reserved node, the reserved job
    /// when its task fits now (which serves the reservation), else backfill — a job whose task ends
    /// before the reserved one could start; elsewhere the best job. Nil: nothing more for the node.
    mutating func choose(for node: NodeRuntime, round: inout LeaseRound, now: Timestamp) -> (job: JobID, servesReservation: Bool)? {
        var endingBy: Timestamp?
        if let jobID = round.reserved {
            let job = queue.jobs[jobID]!
            let resources = job.record.spec.resources
            if resources.fits(in: node.free), resources.gpus <= node.freeGPUs.count, job.hasDueTask(now: now) {
                pool.reservations[node.record.id] = nil // served: the node takes any work again
                round.reserved = nil
                return (jobID, true)
            }
            if round.backfillEnd == nil {
                round.backfillEnd = .some(Scheduler.reservedStart(of: resources, on: node, pool: pool, queue: queue, now: now))
            }
            guard let end = round.backfillEnd!, job.hasDueTask(now: now) else { return nil }
            endingBy = end
        }
        return Scheduler.bestJob(for: node, queue: queue, teams: teams, accounting: accounting, capacity: round.capacity, now: now,
                                 endingBy: endingBy, passedOver: round.passedOver, overBudget: &round.overBudget).map { ($0, false) }
    }

    /// Step 3, grant: leases the next task of `jobID` to `node` (taken out of the pool by the caller).
    mutating func grant(_ jobID: JobID, on node: inout NodeRuntime, now: Timestamp, into mutations: inout [Mutation]) -> Lease {
        // Taken out of the dictionary (and put back below) so that it is uniquely
        // referenced: changing a copy would copy all its task rows on every lease.
        var job = queue.jobs.removeValue(forKey: jobID)!
        let spec = job.record.spec
        let index = job.takeRunnableIndex(now: now)!
        let attemptID = pool.nextAttemptID()
        var task = job.tasks[index] ?? TaskRecord(ref: TaskRef(job: jobID, index: index), state: .queued)
        task.attempts += 1
        task.state = .running
        task.currentAttempt = attemptID
        task.notBefore = nil
        job.tasks[index] = task
        job.running += 1
        job.waitingSince = now
        queue.lastLeaseAt = now
        let gpus = Placement.gpuIndices(spec.resources.gpus, from: node.freeGPUs)
        node.freeGPUs.removeFirst(gpus.count)
        node.allocated = node.allocated + spec.resources
        node.active.insert(attemptID)
        var attempt = AttemptRecord(id: attemptID, task: task.ref, number: task.attempts, node: node.record.id, allocation: spec.resources,
                                    gpuIndices: gpus, startedAt: now, costMicros: 0)
        attempt.meter = CostMeter(prices: node.record.prices, since: now)
        pool.activeAttempts[attemptID] = attempt
        if job.record.state == .queued {
            // Queued before its first lease, or again after a requeue: the first start is kept.
            let reason = job.record.startedAt == nil ? JobRuntime.firstLeaseReason : "task \(index) leased to \(node.record.name)"
            job.record.state = JobRuntime.liveState(running: job.running)
            job.record.startedAt = job.record.startedAt ?? now
            mutations.append(.appendEvent(Event(subject: "job/\(jobID)", job: jobID, at: now, from: JobState.queued.rawValue,
                                                to: job.record.state.rawValue, reason: reason, actor: "coordinator")))
        }
        mutations.append(.putTask(task))
        mutations.append(.putAttempt(attempt))
        mutations.append(.appendEvent(Event(subject: "task/\(task.ref.job)/\(index)", job: jobID, at: now, from: TaskState.queued.rawValue,
                                            to: TaskState.running.rawValue, reason: "attempt \(task.attempts) (\(attemptID)) leased to \(node.record.name)",
                                            actor: "coordinator")))
        teams.hold(spec.resources, team: spec.team)
        let pendingWork = job.hasPendingWork
        let record = job.record
        queue.jobs[jobID] = job
        if !pendingWork { queue.removePending(jobID) }
        // The job row changed (cursor or state); write it once per job per batch.
        if let last = mutations.lastIndex(where: { if case .putJob(let r) = $0 { r.id == jobID } else { false } }) {
            mutations.remove(at: last)
        }
        mutations.append(.putJob(record))
        return Lease(attempt: attempt, spec: spec)
    }
}
