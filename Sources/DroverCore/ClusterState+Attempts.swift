extension ClusterState {
    // MARK: - Reports

    /// Commits the outcome an agent reported for one of its attempts.
    public mutating func report(_ report: AttemptReport, from node: NodeID, now: Timestamp,
                                random: inout some RandomNumberGenerator) -> Transition<ReportResult> {
        let batch = self.report([report], from: node, maxLeases: 0, now: now, random: &random)
        return Transition(batch.value.results[0], mutations: batch.mutations, effects: batch.effects)
    }

    /// Commits a batch of reports of one node; each gets its own verdict. With `maxLeases`,
    /// leases up to that many tasks to the node in the same transition (the capacity the
    /// reports freed is the node's own), so the agent needs no poll to get its next work.
    /// Polls to wake follow ``WakeRule/afterReports(of:changed:mayHelpOtherNodes:tookLeases:)``.
    public mutating func report(_ reports: [AttemptReport], from node: NodeID, maxLeases: Int, now: Timestamp,
                                random: inout some RandomNumberGenerator) -> Transition<ReportsOutcome> {
        var mutations: [Mutation] = []
        var results: [ReportResult] = []
        results.reserveCapacity(reports.count)
        for report in reports {
            results.append(commit(report, from: node, now: now, random: &random, into: &mutations))
        }
        let wake = WakeRule.afterReports(of: node, changed: !mutations.isEmpty, mayHelpOtherNodes: reportsMayHelpOtherNodes(mutations),
                                         tookLeases: maxLeases > 0)
        var transition = Transition(ReportsOutcome(results: results, leases: []), mutations: mutations, effects: Effects(wake: wake))
        if maxLeases > 0 {
            // The node's poll may still be parked: it stays a candidate home for hand-offs.
            let waiting = pool.waitingNodes.contains(node)
            transition.value.leases = transition.absorb(lease(node: node, limit: maxLeases, now: now))
            if waiting { pool.noteWaiting(node) }
            if !transition.value.leases.isEmpty { transition.mutations = Self.droppingRequeueFlaps(transition.mutations) }
        }
        return transition
    }

    /// `mutations` without the job events of a job that went `running → queued` and back to
    /// `running` within them: a report ended its last running task and the lease in the same
    /// commit started another, so no one could ever see it queued. Its last row is kept.
    static func droppingRequeueFlaps(_ mutations: [Mutation]) -> [Mutation] {
        var wentQueued: [JobID: Int] = [:]
        var dropped: Set<Int> = []
        for (index, mutation) in mutations.enumerated() {
            guard case .appendEvent(let event) = mutation, let job = event.job, event.subject == "job/\(job)" else { continue }
            if event.from == JobState.running.rawValue, event.to == JobState.queued.rawValue {
                wentQueued[job] = index
            } else if event.from == JobState.queued.rawValue, event.to == JobState.running.rawValue, let queuedAt = wentQueued.removeValue(forKey: job) {
                dropped.formUnion([queuedAt, index])
            }
        }
        guard !dropped.isEmpty else { return mutations }
        return mutations.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)
    }

    /// Whether ending these attempts (`mutations` of reports) may let a node other than theirs
    /// lease something: a task went back to the queue, or a team with queued work and a quota
    /// or budget freed some of it.
    public func reportsMayHelpOtherNodes(_ mutations: [Mutation]) -> Bool {
        for mutation in mutations {
            switch mutation {
            case .putTask(let task) where task.state == .queued:
                return true
            case .putAttempt(let attempt) where attempt.state != .running:
                guard let team = queue.jobs[attempt.task.job]?.record.spec.team else { continue }
                if queue.pendingByTeam[team]?.isEmpty == false, teams.quota(of: team) != .unlimited { return true }
            default:
                continue
            }
        }
        return false
    }

    /// One report's verdict; an accepted one appends what it changed to `mutations`.
    private mutating func commit(_ report: AttemptReport, from node: NodeID, now: Timestamp, random: inout some RandomNumberGenerator,
                                 into mutations: inout [Mutation]) -> ReportResult {
        guard let attempt = pool.activeAttempts[report.attempt] else { return .notActive }
        guard attempt.node == node else { return .wrongNode(owner: attempt.node) }
        guard report.outcome != .running, report.outcome != .lost else { return .invalid("an agent cannot report outcome '\(report.outcome.rawValue)'") }
        pool.nodes[node]?.lastSeen = now
        endAttempt(report.attempt, outcome: report.outcome, report: report, reason: report.reason ?? "reported by \(pool.nodes[node]?.record.name ?? node.description)",
                   actor: "node/\(node)", now: now, random: &random, into: &mutations)
        return .accepted
    }

    /// Ends an active attempt, frees its node's resources and decides the task's fate.
    ///
    /// With `requeueFree` (a budget hard stop) the task goes back to the queue without using any
    /// of its budgets; with `checkBudget` false the team's budget is not re-examined afterwards.
    mutating func endAttempt(_ id: AttemptID, outcome: AttemptState, report: AttemptReport?, reason: String, actor: String,
                             now: Timestamp, random: inout some RandomNumberGenerator, into mutations: inout [Mutation],
                             requeueFree: Bool = false, checkBudget: Bool = true) {
        guard var attempt = pool.release(id) else { return }
        var outcome = outcome
        var reason = reason
        if outcome == .failed, let spec = queue.jobs[attempt.task.job]?.record.spec, spec.retry.isCheckpoint(exitCode: report?.exitCode) {
            // The task saved a checkpoint and asked to be run again: it was not a failure.
            outcome = .preempted
            reason = "exited with checkpoint code \(report!.exitCode!)"
        }
        // Billed up to now: the report's arrival, or the moment the coordinator declared it lost.
        let booked = book(&attempt, until: now, into: &mutations)
        attempt.meter = nil
        if let team = queue.jobs[attempt.task.job]?.record.spec.team { teams.hold(attempt.allocation, team: team, release: true) }
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

        guard queue.jobs[attempt.task.job]?.tasks[attempt.task.index] != nil else { return }
        // Taken out while it changes so that its task rows are not copied (see `lease`).
        var job = queue.jobs.removeValue(forKey: attempt.task.job)!
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
            queue.noteRetry(task.ref, at: task.notBefore!)
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
        job.releaseTaskRowsIfFinished()
        queue.jobs[job.record.id] = job
        if job.hasPendingWork { queue.insertPending(job.record.id) }

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
        var requeued: String? = nil
        if case .retry(_, let why) = decision { requeued = why }
        settleLiveState(of: job.record.id, requeued: requeued, now: now, into: &mutations)
        settleReservation(of: job.record.id)
        if checkBudget, booked != 0 { enforceBudget(team: job.record.spec.team, now: now, random: &random, into: &mutations) }
    }
}
