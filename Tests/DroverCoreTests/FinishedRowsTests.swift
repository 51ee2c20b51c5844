import DroverCore
import Testing

/// Memory holds live state: a finished job keeps its counts and record, not its task rows.
@Suite struct FinishedRowsTests {
    @Test func aJobThatSucceededKeepsItsCountsAndLetsGoOfItsRows() throws {
        var h = Harness()
        let node = h.register("a", cpu: 8000)
        let job = try h.submit(makeSpec(kind: .batch, tasks: 3))
        let attempts = h.lease(node)
        #expect(attempts.count == 3 && h.job(job).tasks.count == 3)
        for attempt in attempts.dropLast() { h.report(attempt.id, .succeeded, exitCode: 0) }
        #expect(h.job(job).tasks.count == 3, "live while a shard runs")
        h.report(attempts.last!.id, .succeeded, exitCode: 0)
        #expect(h.job(job).record.state == .succeeded && h.job(job).succeeded == 3)
        #expect(h.job(job).tasks.isEmpty && h.job(job).retryQueue.isEmpty)
        #expect(h.task(job, 2)?.state == .succeeded, "the row went to the store")
    }

    @Test func aCancelledJobHoldsItsRowsUntilItsLastAttemptHasEnded() throws {
        var h = Harness()
        let node = h.register("a", cpu: 2000)
        let job = try h.submit(makeSpec(kind: .batch, tasks: 5))
        let attempts = h.lease(node)
        #expect(attempts.count == 2)
        try h.cancel(job)
        #expect(h.job(job).record.state == .cancelled && h.job(job).running == 2 && h.job(job).tasks.count == 2)
        h.report(attempts[0].id, .cancelled)
        #expect(h.job(job).tasks.count == 2)
        h.report(attempts[1].id, .cancelled)
        #expect(h.job(job).tasks.isEmpty && h.job(job).running == 0 && h.job(job).cancelled == 5)
    }

    @Test func loadingCountsTheRowsOfFinishedJobsInsteadOfHoldingThem() {
        let spec = makeSpec(kind: .batch, tasks: 10)
        let finished = JobRecord(id: JobID(1), spec: spec, state: .failed, submittedAt: Timestamp(milliseconds: 0), nextUnstarted: 10, submittedBy: "a")
        let state = ClusterState(jobs: [finished], tasks: [], finishedTaskCounts: [JobID(1): FinishedTaskCounts(succeeded: 5, failed: 2, cancelled: 1)],
                                 activeAttempts: [], nodes: [], lastAttemptID: 0, now: Timestamp(milliseconds: 0))
        let job = state.jobs[JobID(1)]!
        // 8 rows counted; the 2 shards without a row never started and were cancelled.
        #expect([job.queued, job.running, job.succeeded, job.failed, job.cancelled] == [0, 0, 5, 2, 3])
        #expect(job.tasks.isEmpty)
    }
}
