import DroverCore
import DroverStore
import DroverStoreSQLite
import Foundation
import Testing

/// What every ``Store`` must do, run against each implementation.
@Suite struct StoreConformanceTests {
    @Test(arguments: StoreKind.allCases)
    func emptyStoreLoadsNothing(kind: StoreKind) async throws {
        let store = try kind.make()
        let state = try await store.load()
        #expect(state.jobs.isEmpty && state.tasks.isEmpty && state.activeAttempts.isEmpty && state.nodes.isEmpty)
        #expect(state.lastAttemptID == 0 && state.jobCosts.isEmpty)
        #expect(try await store.attempt(AttemptID(1)) == nil)
        #expect(try await store.events(of: JobID(1), limit: 10).total == 0)
        #expect(try await store.log(of: AttemptID(1), from: 0, maxBytes: 100).isEmpty)
        try await store.apply([])
    }

    @Test(arguments: StoreKind.allCases)
    func putsReadBackThroughLoad(kind: StoreKind) async throws {
        let store = try kind.make()
        var job = sampleJob(1, state: .running)
        job.startedAt = at(5)
        job.nextUnstarted = 2
        job.reason = "first task leased"
        var node = sampleNode(1)
        node.taskIsolation = .uid
        let running = TaskRecord(ref: TaskRef(job: JobID(1), index: 0), state: .running, failures: 1, lost: 2, attempts: 4, currentAttempt: AttemptID(4))
        let waiting = TaskRecord(ref: TaskRef(job: JobID(1), index: 1), state: .queued, failures: 1, attempts: 1, currentAttempt: AttemptID(2), notBefore: at(30))
        try await store.apply([
            .putJob(job), .putNode(node), .putTask(running), .putTask(waiting),
            .putAttempt(sampleAttempt(2, index: 1, state: .failed, cost: 120)), .putAttempt(sampleAttempt(4, number: 4)),
        ])
        let state = try await store.load()
        #expect(state.jobs == [job])
        #expect(state.nodes == [node])
        #expect(Set(state.tasks) == [running, waiting])
        #expect(state.activeAttempts == [sampleAttempt(4, number: 4)])
        #expect(state.lastAttemptID == 4)
        #expect(state.jobCosts[JobID(1)] == 120)
    }

    @Test(arguments: StoreKind.allCases)
    func rewrittenSpecsReadBackWithTheRestOfTheJobUnchanged(kind: StoreKind) async throws {
        let store = try kind.make()
        var job = sampleJob(1, state: .running)
        job.nextUnstarted = 1
        let other = sampleJob(2)
        try await store.apply([.putJob(job), .putJob(other)])
        var spec = job.spec
        spec.environment["TOKEN"] = "drover-sealed:v1:AAAA"
        try await store.rewriteSpecs([job.id: spec])
        try await store.rewriteSpecs([:])
        job.spec = spec
        #expect(try await store.load().jobs == [job, other])
    }

    @Test(arguments: StoreKind.allCases)
    func emptyAndNonASCIITextReadsBackExactly(kind: StoreKind) async throws {
        let store = try kind.make()
        var attempt = sampleAttempt(3, state: .failed)
        attempt.reason = ""
        attempt.progress = "{\"note\":\"a – ünïcödé 🚀\"}"
        let event = Event(subject: "task/1/0", job: JobID(1), at: at(7), from: nil, to: "queued", reason: "x y 🚀", actor: "")
        try await store.apply([.putJob(sampleJob(1, state: .running)), .putNode(sampleNode(1)), .putAttempt(attempt), .appendEvent(event)])
        let stored = try #require(try await store.attempt(AttemptID(3)))
        #expect(stored.reason == "" && stored.progress == attempt.progress)
        let events = try await store.events(of: JobID(1), limit: 10).events
        #expect(events.last?.reason == "x y 🚀" && events.last?.actor == "" && events.last?.from == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func loadHoldsRowsOfLiveJobsAndCountsThoseOfFinishedOnes(kind: StoreKind) async throws {
        let store = try kind.make()
        let rows = { (job: Int64, states: [TaskState]) in
            states.enumerated().map { Mutation.putTask(TaskRecord(ref: TaskRef(job: JobID(job), index: $0.offset), state: $0.element)) }
        }
        // 1 finished, 2 live, 3 finished but one attempt still running (cancelled while it ran).
        try await store.apply([.putJob(sampleJob(1, state: .failed, tasks: 4)), .putJob(sampleJob(2, state: .running)),
                               .putJob(sampleJob(3, state: .cancelled))]
                              + rows(1, [.succeeded, .failed, .failed]) + rows(2, [.succeeded, .queued]) + rows(3, [.running, .cancelled]))
        let state = try await store.load()
        #expect(Set(state.tasks.map(\.ref.job)) == [JobID(2), JobID(3)] && state.tasks.count == 4)
        #expect(state.finishedTaskCounts == [JobID(1): FinishedTaskCounts(succeeded: 1, failed: 2)])
        let rebuilt = state.clusterState(now: at(100))
        let first = try #require(rebuilt.jobs[JobID(1)])
        #expect([first.succeeded, first.failed, first.cancelled] == [1, 2, 1] && first.tasks.isEmpty)
        #expect(rebuilt.jobs[JobID(3)]?.tasks.count == 2)
    }

    @Test(arguments: StoreKind.allCases)
    func aJobsIdempotencyKeyIsKept(kind: StoreKind) async throws {
        let store = try kind.make()
        var job = sampleJob(1)
        job.idempotencyKey = "7f0c2a9e-retry-me"
        try await store.apply([.putJob(job), .putJob(sampleJob(2))])
        let loaded = try await store.load().jobs
        #expect(loaded.map(\.idempotencyKey) == ["7f0c2a9e-retry-me", nil])
    }

    @Test(arguments: StoreKind.allCases)
    func jobIDsPageNewestFirstWithFilters(kind: StoreKind) async throws {
        let store = try kind.make()
        var other = sampleJob(4, state: .running)
        other.spec.team = "web"
        try await store.apply([.putJob(sampleJob(1)), .putJob(sampleJob(2, state: .succeeded)), .putJob(sampleJob(3)), .putJob(other),
                               .putJob(sampleJob(5))])
        #expect(try await store.jobIDs(team: nil, state: nil, before: nil, limit: 2) == [JobID(5), JobID(4)])
        #expect(try await store.jobIDs(team: nil, state: nil, before: JobID(4), limit: 2) == [JobID(3), JobID(2)])
        #expect(try await store.jobIDs(team: "ml", state: .queued, before: nil, limit: 10) == [JobID(5), JobID(3), JobID(1)])
        #expect(try await store.jobIDs(team: "web", state: nil, before: JobID(4), limit: 10).isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func putIsAnUpsert(kind: StoreKind) async throws {
        let store = try kind.make()
        let ref = TaskRef(job: JobID(1), index: 0)
        try await store.apply([.putJob(sampleJob(1)), .putNode(sampleNode(1)), .putTask(TaskRecord(ref: ref, state: .queued)),
                               .putAttempt(sampleAttempt(1))])
        var job = sampleJob(1, state: .succeeded)
        job.endedAt = at(99)
        job.nextUnstarted = 4
        job.reason = "all 4 task(s) succeeded"
        let task = TaskRecord(ref: ref, state: .succeeded, attempts: 1, currentAttempt: AttemptID(1))
        let finished = sampleAttempt(1, state: .succeeded, cost: 55)
        // The node changes after it holds attempts (goes down): the rows that refer to it stay.
        try await store.apply([.putJob(job), .putTask(task), .putAttempt(finished), .putNode(sampleNode(1, state: .down))])
        let state = try await store.load()
        #expect(state.jobs == [job])
        // A finished job's rows stay in the store, counted: one row, replaced, not two.
        #expect(state.tasks.isEmpty && state.finishedTaskCounts == [JobID(1): FinishedTaskCounts(succeeded: 1)])
        #expect(state.activeAttempts.isEmpty)
        #expect(state.nodes.map(\.state) == [.down])
        #expect(try await store.attempt(AttemptID(1)) == finished)
        #expect(try await store.attempts(of: JobID(1)) == [finished])
    }

    @Test(arguments: StoreKind.allCases)
    func attemptsByJobTaskAndID(kind: StoreKind) async throws {
        let store = try kind.make()
        let attempts = [
            sampleAttempt(1, job: 1, index: 0, state: .failed, cost: 10), sampleAttempt(2, job: 1, index: 1, state: .lost, cost: 20),
            sampleAttempt(3, job: 2, index: 0, node: 2, state: .succeeded, cost: 30), sampleAttempt(4, job: 1, index: 0, number: 2, node: 2),
            sampleAttempt(5, job: 1, index: 1, number: 2, state: .preempted),
        ]
        // Applied out of id order: reads are still in attempt-id order.
        try await store.apply([.putJob(sampleJob(1)), .putJob(sampleJob(2)), .putNode(sampleNode(1)), .putNode(sampleNode(2))]
                              + attempts.reversed().map(Mutation.putAttempt))
        #expect(try await store.attempts(of: JobID(1)).map(\.id.rawValue) == [1, 2, 4, 5])
        #expect(try await store.attempts(of: JobID(2)) == [attempts[2]])
        #expect(try await store.attempts(of: JobID(3)).isEmpty)
        #expect(try await store.attempts(of: TaskRef(job: JobID(1), index: 0)) == [attempts[0], attempts[3]])
        #expect(try await store.attempts(of: TaskRef(job: JobID(1), index: 1)).map(\.state) == [.lost, .preempted])
        #expect(try await store.attempts(of: TaskRef(job: JobID(1), index: 7)).isEmpty)
        for attempt in attempts { #expect(try await store.attempt(attempt.id) == attempt) }
        #expect(try await store.attempt(AttemptID(6)) == nil)
        let state = try await store.load()
        #expect(state.activeAttempts == [attempts[3]] && state.lastAttemptID == 5)
    }

    @Test(arguments: StoreKind.allCases)
    func jobCostsSumTheAttemptCostsOfEachJob(kind: StoreKind) async throws {
        let store = try kind.make()
        try await store.apply([
            .putJob(sampleJob(1)), .putJob(sampleJob(2)), .putJob(sampleJob(3)), .putNode(sampleNode(1)),
            .putAttempt(sampleAttempt(1, job: 1, state: .failed, cost: 1_234)), .putAttempt(sampleAttempt(2, job: 1, number: 2, state: .succeeded, cost: 8_766)),
            .putAttempt(sampleAttempt(3, job: 1, index: 1)),  // running: no cost yet
            .putAttempt(sampleAttempt(4, job: 2, state: .succeeded, cost: 7)),
        ])
        let costs = try await store.load().jobCosts
        #expect(costs[JobID(1)] == 10_000)
        #expect(costs[JobID(2)] == 7)
        #expect(costs[JobID(3), default: 0] == 0)
    }

    @Test(arguments: StoreKind.allCases)
    func eventsKeepTheMostRecentOldestFirst(kind: StoreKind) async throws {
        let store = try kind.make()
        var mutations: [Mutation] = [.putJob(sampleJob(1)), .putJob(sampleJob(2))]
        for second in Int64(0)..<10 {
            mutations.append(.appendEvent(sampleEvent("task/1/\(second)", job: 1, at: second)))
            if second % 3 == 0 { mutations.append(.appendEvent(sampleEvent("job/2", job: 2, at: second))) }
            if second % 4 == 0 { mutations.append(.appendEvent(sampleEvent("node/n1", job: nil, at: second, to: "down"))) }
        }
        try await store.apply(mutations)
        let recent = try await store.events(of: JobID(1), limit: 4)
        #expect(recent.total == 10)
        #expect(recent.events.map(\.subject) == ["task/1/6", "task/1/7", "task/1/8", "task/1/9"])
        #expect(recent.events.last == sampleEvent("task/1/9", job: 1, at: 9))
        let all = try await store.events(of: JobID(1), limit: 100)
        #expect(all.total == 10 && all.events.map(\.at) == (0..<10).map(at))
        let other = try await store.events(of: JobID(2), limit: 100)
        #expect(other.total == 4 && other.events.allSatisfy { $0.subject == "job/2" })
        #expect(try await store.events(of: JobID(3), limit: 5).events.isEmpty)
        let nodeEvents = try await store.nodeEvents(limit: 2)
        #expect(nodeEvents.map(\.at) == [at(4), at(8)])
        #expect(nodeEvents.allSatisfy { $0.job == nil && $0.to == "down" && $0.from == "queued" && $0.actor == "coordinator" })
        #expect(try await store.nodeEvents(limit: 100).count == 3)
    }

    @Test(arguments: StoreKind.allCases)
    func eventsAppendedLaterComeLater(kind: StoreKind) async throws {
        let store = try kind.make()
        try await store.apply([.putJob(sampleJob(1)), .appendEvent(sampleEvent("job/1", job: 1, at: 5, to: "queued"))])
        // Same instant, separate batches: insertion order, not time, decides.
        try await store.apply([.appendEvent(sampleEvent("job/1", job: 1, at: 5, to: "running"))])
        try await store.apply([.appendEvent(sampleEvent("job/1", job: 1, at: 5, to: "succeeded"))])
        #expect(try await store.events(of: JobID(1), limit: 10).events.map(\.to) == ["queued", "running", "succeeded"])
    }

    @Test(arguments: StoreKind.allCases)
    func logsAreReadByOffset(kind: StoreKind) async throws {
        let store = try kind.make()
        let id = AttemptID(7)
        try await store.apply([.appendLog(attempt: id, offset: 0, data: Array("hello ".utf8))])
        try await store.apply([.appendLog(attempt: id, offset: 6, data: Array("world\n".utf8)),
                               .appendLog(attempt: id, offset: 12, data: Array("bye\n".utf8))])
        func read(_ offset: Int64, _ max: Int) async throws -> String {
            String(decoding: try await store.log(of: id, from: offset, maxBytes: max), as: UTF8.self)
        }
        #expect(try await read(0, 1 << 20) == "hello world\nbye\n")
        #expect(try await read(3, 5) == "lo wo")       // from the middle of one chunk into the next
        #expect(try await read(6, 6) == "world\n")     // exactly one chunk
        #expect(try await read(8, 100) == "rld\nbye\n")
        #expect(try await read(15, 100) == "\n")
        #expect(try await read(16, 100) == "")         // the end
        #expect(try await read(1000, 100) == "")
        #expect(try await store.log(of: AttemptID(8), from: 0, maxBytes: 100).isEmpty)

        // A chunk sent again (its answer was lost) changes nothing.
        try await store.apply([.appendLog(attempt: id, offset: 6, data: Array("world\n".utf8))])
        try await store.apply([.appendLog(attempt: id, offset: 0, data: Array("hello ".utf8))])
        #expect(try await read(0, 1 << 20) == "hello world\nbye\n")

        // Resent from an earlier offset with what was written since: the log just grows.
        try await store.apply([.appendLog(attempt: id, offset: 12, data: Array("bye\nagain\n".utf8))])
        #expect(try await read(0, 1 << 20) == "hello world\nbye\nagain\n")
        #expect(try await read(14, 4) == "e\nag")
    }

    @Test(arguments: StoreKind.allCases)
    func largeLogsArePagedByMaxBytes(kind: StoreKind) async throws {
        let store = try kind.make()
        let id = AttemptID(1)
        var expected: [UInt8] = []
        var mutations: [Mutation] = []
        for chunk in 0..<50 {
            let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &+ chunk * 7) }
            mutations.append(.appendLog(attempt: id, offset: Int64(expected.count), data: data))
            expected += data
        }
        try await store.apply(mutations)
        var read: [UInt8] = []
        while true {
            let page = try await store.log(of: id, from: Int64(read.count), maxBytes: 4096)
            if page.isEmpty { break }
            #expect(page.count <= 4096)
            read += page
        }
        #expect(read == expected)
    }
}

@Suite struct SQLiteStoreTests {
    @Test func dataSurvivesClosingAndReopeningTheFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-reopen-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("drover.db").path
        let job = sampleJob(1, state: .running)
        let attempts = [sampleAttempt(1, state: .failed, cost: 40), sampleAttempt(2, number: 2)]
        let task = TaskRecord(ref: TaskRef(job: JobID(1), index: 0), state: .running, failures: 1, attempts: 2, currentAttempt: AttemptID(2))
        do {  // the first store is closed at the end of this scope
            let first = try SQLiteStore(path: path)
            try await first.apply([.putJob(job), .putNode(sampleNode(1)), .putTask(task)] + attempts.map(Mutation.putAttempt)
                                  + [.appendEvent(sampleEvent("job/1", job: 1, at: 3)), .appendLog(attempt: AttemptID(2), offset: 0, data: [1, 2, 3])])
        }
        let second = try SQLiteStore(path: path)  // migrations run again: must be a no-op
        let state = try await second.load()
        #expect(state.jobs == [job] && state.tasks == [task] && state.nodes == [sampleNode(1)])
        #expect(state.activeAttempts == [attempts[1]] && state.lastAttemptID == 2 && state.jobCosts[JobID(1)] == 40)
        #expect(try await second.attempts(of: JobID(1)) == attempts)
        #expect(try await second.events(of: JobID(1), limit: 10).events == [sampleEvent("job/1", job: 1, at: 3)])
        #expect(try await second.log(of: AttemptID(2), from: 1, maxBytes: 10) == [2, 3])
    }

    @Test func aFailedBatchChangesNothing() async throws {
        let store = try ScratchSQLiteStore()
        try await store.apply([.putJob(sampleJob(1))])
        // An attempt of a node that does not exist breaks a foreign key: the whole batch is refused.
        await #expect(throws: (any Error).self) {
            try await store.apply([.putJob(sampleJob(1, state: .cancelled)), .appendEvent(sampleEvent("job/1", job: 1, at: 1)),
                                   .putAttempt(sampleAttempt(1, node: 99))])
        }
        let state = try await store.load()
        #expect(state.jobs.map(\.state) == [.queued])
        #expect(try await store.events(of: JobID(1), limit: 10).total == 0)
    }
}
