@testable import DroverCore
import DroverTesting
import Testing

/// The job queue alone: pending order and the retry heap.
@Suite struct JobQueueTests {
    let t0 = Timestamp(milliseconds: 1_000_000)

    func runtime(_ id: Int64, team: String = "ml", priority: Int = 0, tasks: Int = 1) -> ClusterState.JobRuntime {
        ClusterState.JobRuntime(record: JobRecord(id: JobID(id), spec: makeSpec(team: team, tasks: tasks, priority: priority), submittedAt: t0, submittedBy: "a"))
    }

    @Test func pendingJobsArePriorityThenAgeOverallAndPerTeam() {
        var queue = JobQueue()
        queue.add(runtime(1, team: "ml"))
        queue.add(runtime(2, team: "cv", priority: 5))
        queue.add(runtime(3, team: "ml", priority: 1))
        queue.add(runtime(4, team: "ml"))
        #expect(queue.pendingJobs == [JobID(2), JobID(3), JobID(1), JobID(4)])
        #expect(queue.pendingByTeam["ml"] == [JobID(3), JobID(1), JobID(4)] && queue.pendingByTeam["cv"] == [JobID(2)])
        #expect(queue.lastJobID == 4)
        // Adding twice changes nothing; removing takes the job out of both lists.
        queue.insertPending(JobID(1))
        #expect(queue.pendingJobs.count == 4)
        queue.removePending(JobID(3))
        #expect(queue.pendingJobs == [JobID(2), JobID(1), JobID(4)] && queue.pendingByTeam["ml"] == [JobID(1), JobID(4)])
        queue.removePending(JobID(2))
        #expect(queue.pendingByTeam["cv"] == nil)
    }

    @Test func nextRetryDueIsTheEarliestQueuedRetryAndSkipsStaleEntries() {
        var queue = JobQueue()
        var job = runtime(1, tasks: 3)
        job.record.nextUnstarted = 3
        for (index, delay) in [(0, 500), (1, 200), (2, 900)] {
            job.tasks[index] = TaskRecord(ref: TaskRef(job: JobID(1), index: index), state: .queued, notBefore: t0.adding(milliseconds: Int64(delay)))
            job.retryQueue.append(index)
        }
        queue.add(job)
        #expect(queue.nextRetryDue() == t0.adding(milliseconds: 200))
        // Task 1 is leased: its entry is stale and the next one shows.
        queue.jobs[JobID(1)]!.tasks[1]!.state = .running
        queue.jobs[JobID(1)]!.tasks[1]!.notBefore = nil
        #expect(queue.nextRetryDue() == t0.adding(milliseconds: 500))
        // Task 0 is delayed again: only its new entry counts.
        queue.jobs[JobID(1)]!.tasks[0]!.notBefore = t0.adding(milliseconds: 2000)
        queue.noteRetry(TaskRef(job: JobID(1), index: 0), at: t0.adding(milliseconds: 2000))
        #expect(queue.nextRetryDue() == t0.adding(milliseconds: 900))
        // A finished job's retries count no more.
        queue.jobs[JobID(1)]!.record.state = .cancelled
        #expect(queue.nextRetryDue() == nil)
    }

    @Test func theHeapPopsInOrder() {
        var rng = SplitMix64(seed: 7)
        var heap = MinHeap<Int>()
        let values = (0..<500).map { _ in Int.random(in: 0..<100, using: &rng) }
        for value in values { heap.push(value) }
        var popped: [Int] = []
        while let value = heap.popMin() { popped.append(value) }
        #expect(popped == values.sorted())
    }
}
