import DroverCore
import Testing

/// A job's state follows its counts: `running` while a task runs, `queued` while none does
/// and work waits — also after a requeue.
@Suite struct JobStateTests {
    @Test func theLiveStateIsRunningExactlyWhileATaskRuns() {
        #expect(ClusterState.JobRuntime.liveState(running: 0) == .queued)
        #expect(ClusterState.JobRuntime.liveState(running: 1) == .running)
        #expect(ClusterState.JobRuntime.liveState(running: 7) == .running)
    }

    @Test func aDrainThatRequeuesTheOnlyRunningTaskMovesTheJobBackToQueued() throws {
        // Given a one-task job running on a node drained with a deadline,
        var h = Harness()
        let node = h.register("a")
        let job = try h.submit(makeSpec())
        let attempt = try #require(h.lease(node).first)
        let startedAt = try #require(h.job(job).record.startedAt)
        h.mutations += try h.state.setNodeState(node, to: .draining, by: "admin", now: h.now, drainDeadline: h.now.adding(milliseconds: 1000)).mutations
        // when the deadline passes and the task is requeued,
        h.advance(1000)
        let drained = h.state.enforceDrainDeadlines(now: h.now, random: &h.random).mutations
        // the job is queued again, with a row and an event that say why,
        #expect(h.state.activeAttempts[attempt.id] == nil && h.job(job).running == 0 && h.job(job).queued == 1)
        #expect(h.job(job).record.state == .queued)
        #expect(drained.compactMap(\.job).last?.state == .queued)
        let event = try #require(drained.compactMap(\.event).first { $0.subject == "job/\(job)" })
        #expect(event.from == "running" && event.to == "queued")
        #expect(event.reason.hasPrefix("no task running; 1 queued (requeued: attempt preempted"), "\(event.reason)")
        // and a new lease on another node makes it running again, its first start kept.
        let b = h.register("b")
        let before = h.mutations.count
        _ = try #require(h.lease(b).first)
        #expect(h.job(job).record.state == .running && h.job(job).record.startedAt == startedAt)
        let again = h.mutations[before...]
        #expect(again.compactMap(\.job).last?.state == .running)
        let back = try #require(again.compactMap(\.event).first { $0.subject == "job/\(job)" })
        #expect(back.from == "queued" && back.to == "running" && back.reason == "task 0 leased to b")
    }

    @Test func aLostNodeRequeuesTheOnlyRunningTaskAndTheJobIsQueued() throws {
        // Given a one-task job running on a node that falls silent,
        var h = Harness()
        let node = h.register("a")
        let job = try h.submit(makeSpec())
        _ = try #require(h.lease(node).first)
        // when the node is declared down,
        h.advance(31_000)
        let expired = h.expire(ttl: 30_000)
        // the job is queued, not running with nothing running.
        #expect(h.job(job).record.state == .queued && h.job(job).running == 0)
        let event = try #require(expired.compactMap(\.event).first { $0.subject == "job/\(job)" })
        #expect(event.to == "queued" && event.reason.contains("requeued: attempt lost"), "\(event.reason)")
    }

    @Test func aJobWithOtherTasksStillRunningStaysRunningAfterARequeue() throws {
        // Given a two-task job with one task on each node,
        var h = Harness()
        let a = h.register("a", cpu: 1000)
        let b = h.register("b", cpu: 1000)
        let job = try h.submit(makeSpec(kind: .batch, tasks: 2))
        _ = try #require(h.lease(a).first)
        _ = try #require(h.lease(b).first)
        // when one node leaves,
        let left = h.state.leave(node: a, now: h.now, random: &h.random).mutations
        // its task is requeued but the job still runs the other one: no job event.
        #expect(h.job(job).running == 1 && h.job(job).queued == 1 && h.job(job).record.state == .running)
        #expect(!left.compactMap(\.event).contains { $0.subject == "job/\(job)" })
    }

    @Test func aReportThatEndsTheLastRunningTaskAndLeasesTheNextWritesNoJobEvent() throws {
        // Given a two-task job on a node with room for one task,
        var h = Harness()
        let node = h.register("a", cpu: 1000)
        let job = try h.submit(makeSpec(kind: .batch, tasks: 2))
        let first = try #require(h.lease(node).first)
        // when the report of the first also leases the second in the same commit,
        let both = h.state.report([AttemptReport(attempt: first.id, outcome: .succeeded, exitCode: 0)], from: node, maxLeases: 1, now: h.now,
                                  random: &h.random)
        // the job never was queued for anyone to see: no job event, its row says running.
        #expect(both.value.leases.count == 1 && h.job(job).record.state == .running)
        #expect(!both.mutations.compactMap(\.event).contains { $0.subject == "job/\(job)" })
        #expect(both.mutations.compactMap(\.job).last?.state == .running)
    }

    @Test func aReportThatLeasesNothingLeavesTheJobQueued() throws {
        // Given the same job whose second task the node cannot take (cordoned),
        var h = Harness()
        let node = h.register("a", cpu: 1000)
        let job = try h.submit(makeSpec(kind: .batch, tasks: 2))
        let first = try #require(h.lease(node).first)
        h.mutations += try h.state.setNodeState(node, to: .cordoned, by: "admin", now: h.now).mutations
        let report = h.state.report([AttemptReport(attempt: first.id, outcome: .succeeded, exitCode: 0)], from: node, maxLeases: 1, now: h.now,
                                    random: &h.random)
        #expect(report.value.leases.isEmpty && h.job(job).record.state == .queued)
        let event = try #require(report.mutations.compactMap(\.event).first { $0.subject == "job/\(job)" })
        #expect(event.to == "queued" && event.reason == "no task running; 1 queued")
    }

    @Test func theLastTaskEndingEndsTheJobWithoutPassingThroughQueued() throws {
        var h = Harness()
        let node = h.register("a")
        let job = try h.submit(makeSpec())
        let attempt = try #require(h.lease(node).first)
        let ended = h.report(attempt.id, .succeeded, exitCode: 0).mutations
        #expect(ended.compactMap(\.event).filter { $0.subject == "job/\(job)" }.map(\.to) == ["succeeded"])
    }

    @Test func loadingARowThatSaysRunningWithNothingRunningGivesQueued() throws {
        // Given a job row written as running whose only task row is queued (a requeue before states were defined by counts),
        let spec = makeSpec()
        let row = JobRecord(id: JobID(1), spec: spec, state: .running, submittedAt: Timestamp(milliseconds: 0), startedAt: Timestamp(milliseconds: 5),
                            nextUnstarted: 1, submittedBy: "alice")
        let task = TaskRecord(ref: TaskRef(job: JobID(1), index: 0), state: .queued)
        // when the state is rebuilt, the job is queued.
        let state = ClusterState(jobs: [row], tasks: [task], activeAttempts: [], nodes: [], lastAttemptID: 0, now: Timestamp(milliseconds: 10))
        #expect(state.jobs[JobID(1)]?.record.state == .queued)
        #expect(state.pendingJobs == [JobID(1)])
    }
}

/// A node whose agent says it leaves is down at once and its remaining attempts are requeued.
@Suite struct NodeLeaveTests {
    @Test func aLeavingNodeIsDownAtOnceWithReasonLeftAndItsAttemptsRequeued() throws {
        // Given a task running on a node,
        var h = Harness()
        let node = h.register("a")
        let job = try h.submit(makeSpec())
        let attempt = try #require(h.lease(node).first)
        // when its agent leaves (its report never arrived),
        let left = h.state.leave(node: node, now: h.now, random: &h.random)
        // the node is down with reason `left`, its token no longer works,
        #expect(h.state.nodes[node]?.record.state == .down)
        let event = try #require(left.mutations.compactMap(\.event).first { $0.subject == "node/\(node)" })
        #expect(event.from == "ready" && event.to == "down" && event.reason == "left")
        #expect(h.state.nodeIDsByTokenHash.values.contains(node) == false)
        #expect(left.mutations.compactMap(\.node).last?.state == .down)
        // its attempt is lost and the task queued for another node, at once,
        #expect(h.state.activeAttempts[attempt.id] == nil)
        #expect(left.mutations.compactMap(\.attempt).first?.state == .lost)
        #expect(h.task(job, 0)?.state == .queued && h.job(job).record.state == .queued)
        #expect(left.effects.wake == .all)
        // and the node takes no lease; another one does.
        #expect(h.lease(node).isEmpty)
        let b = h.register("b")
        #expect(h.lease(b).count == 1)
    }

    @Test func aLeftNodeIsReadyAgainWhenItsAgentRegistersAgain() throws {
        var h = Harness()
        let node = h.register("a")
        _ = h.state.leave(node: node, now: h.now, random: &h.random)
        h.advance(1)
        #expect(h.register("a") == node)
        #expect(h.state.nodes[node]?.record.state == .ready)
    }
}
