extension ClusterState {
    // MARK: - Jobs

    /// Accepts a validated job. Refuses one that no registered node could ever hold, one that can
    /// never fit its team's quota, and one its team's budget does not admit.
    public mutating func submit(_ spec: JobSpec, by actor: String, now: Timestamp) throws(ClusterError) -> Transition<JobRecord> {
        try submit(spec, by: actor, idempotencyKey: nil, now: now).map { $0.record }
    }

    /// How long an `Idempotency-Key` finds the job first submitted with it.
    public static let idempotencyWindowMilliseconds: Int64 = 24 * 3_600_000

    /// Submits, or with `idempotencyKey` used by the team within the window, answers the job
    /// first submitted with it (`replayed`) and changes nothing; the same key with another spec
    /// is refused, so a retried request can never become a different job.
    public mutating func submit(_ spec: JobSpec, by actor: String, idempotencyKey: String?, now: Timestamp)
        throws(ClusterError) -> Transition<(record: JobRecord, replayed: Bool)> {
        if let key = idempotencyKey, let first = queue.job(team: spec.team, idempotencyKey: key),
           now.milliseconds(since: first.record.submittedAt) < Self.idempotencyWindowMilliseconds {
            guard first.record.spec == spec else {
                throw .conflict("Idempotency-Key '\(key)' was used for job \(first.record.id) with a different spec less than 24 h ago; send a new key for a new job")
            }
            return Transition((first.record, true))
        }
        let reserved = try checkAdmission(spec, now: now)
        let record = JobRecord(id: JobID(queue.lastJobID + 1), spec: spec, submittedAt: now, submittedBy: actor, idempotencyKey: idempotencyKey)
        var runtime = JobRuntime(record: record, waitingSince: now)
        runtime.estimateMicros = reserved
        queue.add(runtime)
        settleReservation(of: record.id)
        let event = Event(subject: "job/\(record.id)", job: record.id, at: now, from: nil, to: JobState.queued.rawValue,
                          reason: "submitted \(spec.kind.rawValue) job '\(spec.name)' with \(spec.taskCount) task(s)", actor: actor)
        return Transition((record, false), mutations: [.putJob(record), .appendEvent(event)], effects: Effects(wake: WakeRule.everyPoll))
    }

    /// The checks of ``submit(_:by:now:)``, without submitting: throws why the job would be
    /// refused; returns the estimate it would reserve against its team's budget, if any.
    @discardableResult
    public func checkAdmission(_ spec: JobSpec, now: Timestamp) throws(ClusterError) -> Int64? {
        if !pool.nodes.isEmpty {
            let candidates = pool.nodes.values.filter { node in spec.constraints.allSatisfy { $0.matches(node.record.labels) } }
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
        return try budgetAdmission(spec, now: now)
    }

    /// Cancels a job: queued shards are cancelled at once, running attempts are asked to stop
    /// (the effects name them, by node).
    public mutating func cancel(_ id: JobID, by actor: String, now: Timestamp) throws(ClusterError) -> Transition<Void> {
        guard let job = queue.jobs[id] else { throw .jobNotFound(id) }
        guard !job.record.state.isTerminal else { throw .jobFinished(id, job.record.state) }
        var mutations: [Mutation] = []
        endJob(id, as: .cancelled, reason: "cancelled by \(actor)", actor: actor, now: now, into: &mutations)
        var effects = Effects()
        for attempt in pool.activeAttempts.values where attempt.task.job == id { effects.cancels[attempt.node, default: []].append(attempt.id) }
        for node in effects.cancels.keys { effects.cancels[node]!.sort() }
        return Transition(mutations: mutations, effects: effects)
    }

    /// Attempts of `node` the agent must stop because their job has ended.
    public func attemptsToCancel(on node: NodeID) -> [AttemptID] {
        guard let runtime = pool.nodes[node] else { return [] }
        return runtime.active.filter { id in
            guard let attempt = pool.activeAttempts[id] else { return false }
            return queue.jobs[attempt.task.job]?.record.state.isTerminal ?? true
        }.sorted()
    }

    // MARK: - Ending jobs

    /// Moves a job to a terminal state and cancels everything of it that waits in the queue.
    mutating func endJob(_ id: JobID, as state: JobState, reason: String, actor: String, now: Timestamp, into mutations: inout [Mutation]) {
        guard var job = queue.jobs.removeValue(forKey: id) else { return }
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
        job.releaseTaskRowsIfFinished()
        queue.jobs[id] = job
        queue.removePending(id)
        settleReservation(of: id)
        mutations.append(.putJob(job.record))
        mutations.append(.appendEvent(Event(subject: "job/\(id)", job: id, at: now, from: old.rawValue, to: state.rawValue, reason: reason, actor: actor)))
    }

    /// Moves a job that has not ended to the state its counts call for
    /// (``JobRuntime/liveState(running:)``), writing its row with an event; `requeued` says why
    /// the task that just went back to the queue did.
    mutating func settleLiveState(of id: JobID, requeued: String?, now: Timestamp, into mutations: inout [Mutation]) {
        guard let job = queue.jobs[id], !job.record.state.isTerminal else { return }
        let state = JobRuntime.liveState(running: job.running)
        guard state != job.record.state else { return }
        let old = job.record.state
        queue.jobs[id]!.record.state = state
        let reason = "no task running; \(job.queued) queued" + (requeued.map { " (requeued: \($0))" } ?? "")
        mutations.append(.putJob(queue.jobs[id]!.record))
        mutations.append(.appendEvent(Event(subject: "job/\(id)", job: id, at: now, from: old.rawValue, to: state.rawValue, reason: reason, actor: "coordinator")))
    }

    /// Ends a job whose every task has finished, as succeeded, failed or cancelled.
    mutating func completeJobIfDone(_ id: JobID, now: Timestamp, into mutations: inout [Mutation]) {
        guard let job = queue.jobs[id], !job.record.state.isTerminal, job.running == 0, job.queued == 0 else { return }
        let state: JobState = job.failed > 0 ? .failed : (job.cancelled > 0 ? .cancelled : .succeeded)
        let reason = state == .succeeded ? "all \(job.succeeded) task(s) succeeded"
            : "\(job.succeeded) succeeded, \(job.failed) failed, \(job.cancelled) cancelled"
        endJob(id, as: state, reason: reason, actor: "coordinator", now: now, into: &mutations)
    }
}
