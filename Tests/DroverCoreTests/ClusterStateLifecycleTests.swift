import DroverCore
import Testing

@Suite struct ReportTests {
    @Test func successIsCommittedExactlyOnce() throws {
        var h = Harness()
        let node = h.register("a", prices: Prices(cpuHourMicros: 36_000))
        let job = try h.submit(makeSpec())
        let attempt = try #require(h.lease(node).first)
        h.advance(10_000)
        let result = h.report(attempt.id, .succeeded, exitCode: 0)
        let ended = try #require(result.mutations.compactMap(\.attempt).first)
        #expect(ended.state == .succeeded && ended.exitCode == 0 && ended.endedAt == h.now)
        #expect(ended.costMicros == 100)  // 1 core × 10 s × 10 micros per core-second
        #expect(result.mutations.compactMap(\.task).map(\.state) == [.succeeded])
        #expect(result.mutations.compactMap(\.job).last?.state == .succeeded)
        #expect(h.job(job).record.state == .succeeded && h.job(job).succeeded == 1 && h.job(job).costMicros == 100)
        #expect(h.state.nodes[node]!.allocated == .zero && h.state.activeAttempts.isEmpty)

        h.advance(1)
        #expect(h.report(attempt.id, .succeeded, exitCode: 0).isNotActive)
        #expect(h.report(attempt.id, .failed, exitCode: 1).isNotActive)
        #expect(h.job(job).succeeded == 1 && h.job(job).failed == 0 && h.job(job).costMicros == 100)
    }

    @Test func aReportFromAnotherNodeIsRefused() throws {
        var h = Harness()
        let a = h.register("a")
        let b = h.register("b")
        try h.submit(makeSpec())
        let attempt = try #require(h.lease(a).first)
        guard case .wrongNode(let owner) = h.report(attempt.id, .succeeded, exitCode: 0, from: b).value else {
            Issue.record("expected wrongNode")
            return
        }
        #expect(owner == a)
        #expect(h.state.activeAttempts[attempt.id] != nil)
    }

    @Test(arguments: [AttemptState.running, .lost])
    func agentsCannotReportRunningOrLost(outcome: AttemptState) throws {
        var h = Harness()
        let node = h.register("a")
        try h.submit(makeSpec())
        let attempt = try #require(h.lease(node).first)
        guard case .invalid = h.report(attempt.id, outcome).value else {
            Issue.record("expected invalid")
            return
        }
        #expect(h.state.activeAttempts[attempt.id] != nil)
    }

    @Test func failureIsRetriedAfterTheBackoffAndNotBefore() throws {
        var h = Harness()
        let node = h.register("a")
        let retry = RetryPolicy(maxAttempts: 3, backoff: .init(initialMilliseconds: 1000, multiplier: 2, maxMilliseconds: 60_000, jitter: 0))
        let job = try h.submit(makeSpec(retry: retry))
        let first = try #require(h.lease(node).first)
        let failedAt = h.now
        let result = h.report(first.id, .failed, exitCode: 1)
        let task = try #require(result.mutations.compactMap(\.task).first)
        #expect(task.state == .queued && task.failures == 1 && task.notBefore == failedAt.adding(milliseconds: 1000))
        #expect(h.job(job).record.state == .queued && h.job(job).queued == 1, "nothing runs while the retry waits")
        #expect(h.state.nextRetryDue() == failedAt.adding(milliseconds: 1000))

        h.advance(999)
        #expect(h.lease(node).isEmpty)
        h.advance(1)
        let second = try #require(h.lease(node).first)
        #expect(second.number == 2 && second.id > first.id && second.task == first.task)
        #expect(h.state.nextRetryDue() == nil)

        h.report(second.id, .timedOut)
        #expect(h.job(job).tasks[0]?.notBefore == h.now.adding(milliseconds: 2000))
        h.advance(2000)
        let third = try #require(h.lease(node).first)
        #expect(third.number == 3)
        h.report(third.id, .failed, exitCode: 1)
        #expect(h.task(job, 0)?.state == .failed && h.task(job, 0)?.failures == 3)
        #expect(h.job(job).record.state == .failed && h.job(job).failed == 1)
        #expect(h.state.pendingJobs.isEmpty)
    }

    @Test func nonRetryableExitCodeFailsTheTaskAtOnce() throws {
        var h = Harness()
        let node = h.register("a")
        let job = try h.submit(makeSpec(retry: RetryPolicy(maxAttempts: 5, nonRetryableExitCodes: [2])))
        let attempt = try #require(h.lease(node).first)
        h.report(attempt.id, .failed, exitCode: 2)
        #expect(h.job(job).record.state == .failed && h.task(job, 0)?.attempts == 1)
    }
}

@Suite struct BatchTests {
    @Test func hundredThousandShardsHaveNoRowsUntilLeasedAndCompleteWhenAllSucceed() throws {
        var h = Harness()
        let node = h.register("big", cpu: 1_000_000_000, memory: 1 << 50)
        let job = try h.submit(makeSpec(kind: .batch, tasks: 100_000, cpu: 1, memory: 1))
        #expect(h.job(job).tasks.isEmpty && h.job(job).queued == 100_000)
        #expect(h.mutations.compactMap(\.task).isEmpty)

        let leased = h.state.lease(node: node, limit: 10, now: h.now)
        let (leases, mutations) = (leased.value, leased.mutations)
        #expect(leases.map(\.attempt.task.index) == Array(0..<10))
        #expect(h.job(job).tasks.count == 10 && h.job(job).record.nextUnstarted == 10)
        #expect(mutations.compactMap(\.task).count == 10 && mutations.compactMap(\.job).count == 1)

        // The rest through the raw state (the harness would keep a million mutations).
        var state = h.state
        for lease in leases {
            _ = state.report(AttemptReport(attempt: lease.attempt.id, outcome: .succeeded, exitCode: 0), from: node, now: h.now, random: &h.random)
        }
        var rounds = 0
        while !state.jobs[job]!.record.state.isTerminal {
            let more = state.lease(node: node, limit: 1000, now: h.now).value
            try #require(!more.isEmpty)
            for lease in more {
                _ = state.report(AttemptReport(attempt: lease.attempt.id, outcome: .succeeded, exitCode: 0), from: node, now: h.now, random: &h.random)
            }
            rounds += 1
        }
        let done = state.jobs[job]!
        #expect(done.record.state == .succeeded && done.succeeded == 100_000 && done.queued == 0 && done.running == 0)
        #expect(rounds == 100)
        #expect(state.pendingJobs.isEmpty && state.activeAttempts.isEmpty)
    }

    @Test func failedShardsWithinMaxFailedTasksLeaveTheJobRunning() throws {
        var h = Harness()
        let node = h.register("a", cpu: 64_000, memory: 64 * GiB)
        let job = try h.submit(makeSpec(kind: .batch, tasks: 4, retry: RetryPolicy(maxAttempts: 1), maxFailedTasks: 1))
        let leases = h.lease(node)
        h.report(leases[0].id, .failed, exitCode: 1)
        #expect(h.job(job).record.state == .running && h.job(job).failed == 1)
        for attempt in leases.dropFirst() { h.report(attempt.id, .succeeded, exitCode: 0) }
        // Every shard finished, one failed: the job is failed, but nothing was cancelled.
        #expect(h.job(job).record.state == .failed && h.job(job).succeeded == 3 && h.job(job).cancelled == 0)
    }

    @Test func jobFailsFastWhenATaskFailsForGood() throws {
        var h = Harness()
        let node = h.register("a", cpu: 3000, memory: 64 * GiB)
        let job = try h.submit(makeSpec(kind: .batch, tasks: 10, retry: RetryPolicy(maxAttempts: 1), maxFailedTasks: 0))
        let leases = h.lease(node)
        #expect(leases.count == 3)
        let result = h.report(leases[0].id, .failed, exitCode: 1)
        #expect(result.mutations.compactMap(\.job).last?.state == .failed)
        let runtime = h.job(job)
        #expect(runtime.record.state == .failed && runtime.failed == 1 && runtime.running == 2 && runtime.cancelled == 7)
        #expect(h.state.attemptsToCancel(on: node) == [leases[1].id, leases[2].id])
        #expect(h.lease(node).isEmpty)
        h.report(leases[1].id, .cancelled)
        h.report(leases[2].id, .succeeded, exitCode: 0)
        let final = h.job(job)
        #expect(final.record.state == .failed && final.cancelled == 8 && final.succeeded == 1 && final.running == 0 && final.queued == 0)
    }
}

@Suite struct ExpiryAndCancelTests {
    @Test func silentNodeGoesDownAndItsAttemptsAreLostAndRequeued() throws {
        var h = Harness()
        let a = h.register("a")
        let b = h.register("b")
        let job = try h.submit(makeSpec(retry: RetryPolicy(maxAttempts: 1, maxLostAttempts: 1)))
        let attempt = try #require(h.lease(a).first)
        h.state.touch(node: b, now: h.now.adding(milliseconds: 30_000))
        h.advance(30_000)
        #expect(h.expire(ttl: 30_000).isEmpty, "silent for exactly the TTL is not yet down")
        h.advance(1)
        let mutations = h.expire(ttl: 30_000)
        #expect(mutations.compactMap(\.node).map(\.id) == [a])
        #expect(h.state.nodes[a]!.record.state == .down && h.state.nodes[b]!.record.state == .ready)
        #expect(mutations.compactMap(\.attempt).first?.state == .lost)
        let task = try #require(h.job(job).tasks[0])
        #expect(task.state == .queued && task.lost == 1 && task.failures == 0 && task.notBefore == h.now)
        #expect(h.state.nodes[a]!.allocated == .zero && h.state.nodes[a]!.active.isEmpty)
        #expect(h.expire(ttl: 30_000).isEmpty, "a down node is not expired twice")
        #expect(h.lease(a).isEmpty)

        // maxAttempts 1, yet the lost attempt did not use it: the task runs again on b.
        let second = try #require(h.lease(b).first)
        #expect(second.number == 2)
        // The old agent, back from a network partition, reports the lost attempt: stale, refused.
        #expect(h.report(attempt.id, .succeeded, exitCode: 0, from: a).isNotActive)
        #expect(h.job(job).tasks[0]?.currentAttempt == second.id && h.job(job).succeeded == 0)
        h.advance(60_000)
        _ = h.expire(ttl: 30_000)
        // The second loss is more than maxLostAttempts (1): now the task fails.
        #expect(h.task(job, 0)?.state == .failed && h.job(job).record.state == .failed)
    }

    @Test func aDownNodeComesBackByRegisteringAgain() throws {
        var h = Harness()
        let a = h.register("a")
        h.advance(100_000)
        _ = h.expire(ttl: 1000)
        #expect(throws: ClusterError.self) { try h.state.setNodeState(a, to: .ready, by: "admin", now: h.now) }
        #expect(h.register("a") == a)
        #expect(h.state.nodes[a]!.record.state == .ready)
    }

    @Test func cancelEndsQueuedShardsAtOnceAndAsksRunningOnesToStop() throws {
        var h = Harness()
        let node = h.register("a", cpu: 2000)
        let job = try h.submit(makeSpec(kind: .batch, tasks: 10, retry: RetryPolicy(backoff: .init(initialMilliseconds: 60_000, jitter: 0))))
        let leases = h.lease(node)
        #expect(leases.count == 2)
        h.report(leases[0].id, .failed, exitCode: 1)  // waits a minute for its retry
        let third = try #require(h.lease(node).first)
        #expect(third.task.index == 2)
        let mutations = try h.state.cancel(job, by: "alice", now: h.now).mutations
        #expect(mutations.compactMap(\.task).map(\.ref.index) == [0] && mutations.compactMap(\.task).first?.state == .cancelled)
        #expect(mutations.compactMap(\.job).last?.state == .cancelled)
        let runtime = h.job(job)
        #expect(runtime.record.state == .cancelled && runtime.running == 2 && runtime.cancelled == 8 && runtime.queued == 0)
        #expect(h.state.attemptsToCancel(on: node) == [leases[1].id, third.id])
        #expect(h.heartbeat(node, [leases[1].id: nil, third.id: nil]).cancel == [leases[1].id, third.id])
        #expect(!h.state.pendingJobs.contains(job))
        h.advance(120_000)
        #expect(h.lease(node).isEmpty)

        h.report(leases[1].id, .cancelled)
        h.report(third.id, .failed, exitCode: 1)  // not retried: the job is over
        let final = h.job(job)
        #expect(final.cancelled == 10 && final.running == 0 && final.record.state == .cancelled)
        #expect(h.state.attemptsToCancel(on: node).isEmpty)
        #expect(throws: ClusterError.jobFinished(job, .cancelled)) { try h.state.cancel(job, by: "alice", now: h.now) }
        #expect(throws: ClusterError.jobNotFound(JobID(99))) { try h.state.cancel(JobID(99), by: "alice", now: h.now) }
    }

    @Test func heartbeatNamesAttemptsTheNodeDoesNotHold() throws {
        var h = Harness()
        let a = h.register("a")
        let b = h.register("b")
        try h.submit(makeSpec())
        let attempt = try #require(h.lease(a).first)
        let onA = h.heartbeat(a, [attempt.id: "{\"progress\":0.5}", AttemptID(999): nil])
        #expect(onA.unknown == [AttemptID(999)] && onA.cancel.isEmpty)
        #expect(h.state.activeAttempts[attempt.id]?.progress == "{\"progress\":0.5}")
        #expect(h.heartbeat(b, [attempt.id: nil]).unknown == [attempt.id])
    }

    @Test func anAttemptTheAgentNeverReceivedIsLostAfterTheOrphanAge() throws {
        // Given a lease whose answer never reached the agent (the coordinator died after committing it),
        var h = Harness()
        let node = h.register("a")
        let job = try h.submit(makeSpec())
        let attempt = try #require(h.lease(node).first)
        // when the agent's heartbeats keep not listing it,
        h.advance(5_000)
        #expect(h.heartbeat(node, [:]).unknown.isEmpty)
        #expect(h.state.activeAttempts[attempt.id] != nil, "not before the orphan age: the answer may still be on its way")
        h.advance(20_000)
        _ = h.heartbeat(node, [:])
        // then it is lost and its task requeued without using the failure budget.
        #expect(h.state.activeAttempts[attempt.id] == nil)
        #expect(h.mutations.compactMap(\.attempt).last?.state == .lost)
        #expect(h.job(job).queued == 1 && h.job(job).tasks[0]?.failures == 0)
    }
}

@Suite struct IdempotentSubmitTests {
    @Test func theSameKeyFromTheSameTeamWithin24hAnswersTheFirstJobAndChangesNothing() throws {
        var h = Harness()
        let spec = makeSpec()
        let first = try h.state.submit(spec, by: "alice", idempotencyKey: "k-1", now: h.now)
        #expect(!first.value.replayed && first.value.record.idempotencyKey == "k-1")
        h.advance(3_600_000)
        let again = try h.state.submit(spec, by: "alice", idempotencyKey: "k-1", now: h.now)
        #expect(again.value.replayed && again.value.record.id == first.value.record.id)
        #expect(again.mutations.isEmpty && again.effects.polls == .none)
        #expect(h.state.jobs.count == 1)
    }

    @Test func theSameKeyWithAnotherSpecIsRefusedAndAnotherTeamsKeyIsItsOwn() throws {
        var h = Harness()
        let first = try h.state.submit(makeSpec(name: "a"), by: "alice", idempotencyKey: "k", now: h.now).value.record
        #expect(throws: ClusterError.conflict("Idempotency-Key 'k' was used for job \(first.id) with a different spec less than 24 h ago; send a new key for a new job")) {
            _ = try h.state.submit(makeSpec(name: "b"), by: "alice", idempotencyKey: "k", now: h.now)
        }
        let other = try h.state.submit(makeSpec(name: "a", team: "web"), by: "bob", idempotencyKey: "k", now: h.now).value
        #expect(!other.replayed && other.record.id != first.id)
    }

    @Test func after24hTheKeyMakesANewJob() throws {
        var h = Harness()
        let first = try h.state.submit(makeSpec(), by: "alice", idempotencyKey: "k", now: h.now).value.record
        h.advance(ClusterState.idempotencyWindowMilliseconds)
        let later = try h.state.submit(makeSpec(), by: "alice", idempotencyKey: "k", now: h.now).value
        #expect(!later.replayed && later.record.id != first.id)
    }
}
