import DroverCore
import DroverStore
import DroverStoreSQLite
import DroverTesting
import Testing

/// The restart path: everything the state machine returned is applied to a store, then a
/// new ``ClusterState`` is rebuilt from `load()`. It must be the state that was lost.
@Suite struct RestartTests {
    @Test(arguments: StoreKind.allCases)
    func rebuiltStateMatchesTheLiveOne(kind: StoreKind) async throws {
        let store = try kind.make()
        let clock = ManualClock()
        var random = SplitMix64(seed: 3)
        var live = ClusterState()
        func persist(_ mutations: [Mutation]) async throws { try await store.apply(mutations) }
        func register(_ name: String, cpu: Int64, gpus: [Int]) async throws -> NodeID {
            let registered = live.register(name: name, capacity: Resources(millicores: cpu, memoryBytes: 16 << 30, gpus: gpus.count), gpuIndices: gpus,
                                          labels: ["zone": "eu"], prices: Prices(cpuHourMicros: 36_000, gpuHourMicros: 3_600_000),
                                          tokenHash: "token-\(name)", now: clock.now(), random: &random)
            try await persist(registered.mutations)
            return registered.value.id
        }
        func submit(_ name: String, tasks: Int, cpu: Int64, gpus: Int = 0) async throws -> JobID {
            let spec = JobSpec(name: name, team: "ml", kind: tasks > 1 ? .batch : .training, taskCount: tasks, command: ["x"],
                               resources: Resources(millicores: cpu, memoryBytes: 1 << 30, gpus: gpus), maxFailedTasks: 5)
            let submitted = try live.submit(spec, by: "alice", now: clock.now())
            try await persist(submitted.mutations)
            return submitted.value.id
        }
        func lease(_ node: NodeID) async throws -> [AttemptRecord] {
            let leased = live.lease(node: node, limit: 100, now: clock.now())
            try await persist(leased.mutations)
            return leased.value.map(\.attempt)
        }
        func report(_ attempt: AttemptRecord, _ outcome: AttemptState, exit: Int32?) async throws {
            let reported = live.report(AttemptReport(attempt: attempt.id, outcome: outcome, exitCode: exit), from: attempt.node, now: clock.now(),
                                       random: &random)
            let m = reported.mutations
            guard case .accepted = reported.value else {
                Issue.record("report of \(attempt.id) refused")
                return
            }
            try await persist(m)
        }

        let a = try await register("a", cpu: 4000, gpus: [0, 1])
        let b = try await register("b", cpu: 2000, gpus: [])
        let batch = try await submit("batch", tasks: 10, cpu: 1000)
        let train = try await submit("train", tasks: 1, cpu: 1000, gpus: 1)
        let doomed = try await submit("doomed", tasks: 6, cpu: 1000)
        let onA = try await lease(a)
        let onB = try await lease(b)
        #expect(onA.count == 4 && onB.count == 2)
        clock.advance(milliseconds: 60_000)
        try await persist(live.bookRunningCosts(now: clock.now(), intervalMilliseconds: 30_000, random: &random).mutations) // meters part-way
        clock.advance(milliseconds: 1_234)
        try await report(onA[0], .succeeded, exit: 0)
        try await report(onA[1], .failed, exit: 1)  // retried after a backoff
        let more = try await lease(a)
        try await persist(try live.cancel(doomed, by: "alice", now: clock.now()).mutations)
        clock.advance(milliseconds: 45_000)
        try await persist(live.touch(node: a, now: clock.now()).mutations)
        try await persist(live.expireSilentNodes(now: clock.now(), ttlMilliseconds: 30_000, random: &random).mutations)  // b's attempts are lost
        #expect(live.nodes[b]!.record.state == .down)
        #expect(!more.isEmpty && live.jobs[doomed]!.record.state == .cancelled)

        // Restart.
        let restartedAt = clock.now()
        let loaded = try await store.load()
        let rebuilt = loaded.clusterState(now: restartedAt)
        expectSameState(rebuilt, live)
        #expect(rebuilt.jobs[batch]!.costMicros == live.jobs[batch]!.costMicros && live.jobs[batch]!.costMicros > 0)

        // The rebuilt state carries on: every job finishes, and again the two agree.
        var restarted = rebuilt
        var rounds = 0
        while restarted.jobs.values.contains(where: { !$0.record.state.isTerminal }) || !restarted.activeAttempts.isEmpty {
            clock.advance(milliseconds: 5_000)
            for attempt in restarted.activeAttempts.values.sorted(by: { $0.id < $1.id }) {
                guard case .accepted = restarted.report(AttemptReport(attempt: attempt.id, outcome: .succeeded, exitCode: 0),
                                                        from: attempt.node, now: clock.now(), random: &random).value else {
                    Issue.record("report after restart refused")
                    return
                }
            }
            _ = restarted.lease(node: a, limit: 100, now: clock.now())
            rounds += 1
            try #require(rounds < 50, "jobs never finished after the restart")
        }
        #expect(restarted.jobs[batch]!.succeeded == 10 && restarted.jobs[train]!.record.state == .succeeded)
        #expect(restarted.lastAttemptID > loaded.lastAttemptID, "fencing tokens keep growing across a restart")
    }

    @Test(arguments: StoreKind.allCases)
    func randomHistoriesSurviveARestart(kind: StoreKind) async throws {
        for seed in UInt64(1)...(kind == .memory ? 40 : 8) {
            let store: any Store = kind == .memory ? InMemoryStore() : try ScratchSQLiteStore(synchronous: .normal)
            var walk = Walk(seed: seed)
            for _ in 0..<120 {
                try await store.apply(walk.step())
            }
            let rebuilt = try await store.load().clusterState(now: walk.now)
            expectSameState(rebuilt, walk.state, seed: seed)
        }
    }
}

/// Compares what a restart must preserve. `lastSeen` is deliberately not persisted.
func expectSameState(_ rebuilt: ClusterState, _ live: ClusterState, seed: UInt64 = 0, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(rebuilt.lastJobID == live.lastJobID && rebuilt.lastNodeID == live.lastNodeID && rebuilt.lastAttemptID == live.lastAttemptID,
            "seed \(seed)", sourceLocation: sourceLocation)
    #expect(rebuilt.activeAttempts == live.activeAttempts, "seed \(seed)", sourceLocation: sourceLocation)
    #expect(rebuilt.lastLedgerID == live.lastLedgerID && rebuilt.reversedLedgerEntries == live.reversedLedgerEntries, "seed \(seed)",
            sourceLocation: sourceLocation)
    #expect(rebuilt.dailySpend.filter { !$0.value.isEmpty } == live.dailySpend.filter { !$0.value.isEmpty }, "seed \(seed) spend",
            sourceLocation: sourceLocation)
    #expect(rebuilt.pendingJobs == live.pendingJobs, "seed \(seed)", sourceLocation: sourceLocation)
    #expect(rebuilt.nodeIDsByTokenHash == live.nodeIDsByTokenHash, "seed \(seed)", sourceLocation: sourceLocation)
    #expect(Set(rebuilt.jobs.keys) == Set(live.jobs.keys), "seed \(seed)", sourceLocation: sourceLocation)
    for (id, job) in live.jobs {
        guard let other = rebuilt.jobs[id] else { continue }
        let counts = { (j: ClusterState.JobRuntime) in [j.queued, j.running, j.succeeded, j.failed, j.cancelled] }
        #expect(counts(other) == counts(job), "seed \(seed), job \(id) (\(job.record.state)) counts [queued, running, succeeded, failed, cancelled]",
                sourceLocation: sourceLocation)
        #expect(other.record == job.record, "seed \(seed), job \(id) record", sourceLocation: sourceLocation)
        #expect(other.tasks == job.tasks, "seed \(seed), job \(id) tasks", sourceLocation: sourceLocation)
        #expect(other.retryQueue.sorted() == job.retryQueue.sorted(), "seed \(seed), job \(id) retry queue", sourceLocation: sourceLocation)
        #expect(other.costMicros == job.costMicros && other.wastedMicros == job.wastedMicros, "seed \(seed), job \(id) cost", sourceLocation: sourceLocation)
    }
    #expect(Set(rebuilt.nodes.keys) == Set(live.nodes.keys), "seed \(seed)", sourceLocation: sourceLocation)
    for (id, node) in live.nodes {
        guard let other = rebuilt.nodes[id] else { continue }
        #expect(other.record == node.record && other.allocated == node.allocated && other.active == node.active
                && other.freeGPUs.sorted() == node.freeGPUs.sorted(), "seed \(seed), node \(id)", sourceLocation: sourceLocation)
    }
}

/// A random history of submissions, leases, reports, cancellations and expiries; each step
/// returns the mutations to persist.
struct Walk {
    var state = ClusterState()
    var random: SplitMix64
    var now = Timestamp(milliseconds: 1_700_000_000_000)
    var nodes: [NodeID] = []

    init(seed: UInt64) {
        random = SplitMix64(seed: seed)
    }

    mutating func step() -> [Mutation] {
        now = now.adding(milliseconds: Int64.random(in: 0...4000, using: &random))
        if nodes.count < 3 || Int.random(in: 0..<40, using: &random) == 0 {
            let name = "node-\(Int.random(in: 0..<4, using: &random))"
            let gpus = Array(0..<Int.random(in: 0...2, using: &random))
            let registered = state.register(name: name, capacity: Resources(millicores: 4000, memoryBytes: 8 << 30, gpus: gpus.count),
                                           gpuIndices: gpus, labels: [:], prices: Prices(cpuHourMicros: 48_000, gpuHourMicros: 1_000_000),
                                           tokenHash: "\(name)-\(now.milliseconds)", now: now, random: &random)
            if !nodes.contains(registered.value.id) { nodes.append(registered.value.id) }
            return registered.mutations
        }
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<15:
            let tasks = Int.random(in: 1...12, using: &random)
            let spec = JobSpec(name: "j", team: "ml", kind: tasks > 1 ? .batch : .training, taskCount: tasks, command: ["x"],
                               resources: Resources(millicores: Int64.random(in: 1...4, using: &random) * 500, memoryBytes: 1 << 30,
                                                    gpus: Int.random(in: 0..<4, using: &random) == 0 ? 1 : 0),
                               priority: Int.random(in: 0...2, using: &random),
                               retry: RetryPolicy(maxAttempts: Int.random(in: 1...3, using: &random), maxLostAttempts: 1,
                                                  backoff: .init(initialMilliseconds: 2000, jitter: 0.5)),
                               maxFailedTasks: Int.random(in: 0...1, using: &random))
            return (try? state.submit(spec, by: "alice", now: now))?.mutations ?? []
        case 15..<45:
            return state.lease(node: nodes.randomElement(using: &random)!, limit: Int.random(in: 1...4, using: &random), now: now).mutations
        case 45..<80:
            guard let attempt = state.activeAttempts.values.sorted(by: { $0.id < $1.id }).randomElement(using: &random) else { return [] }
            let outcome = [AttemptState.succeeded, .succeeded, .failed, .timedOut, .preempted, .cancelled].randomElement(using: &random)!
            let report = AttemptReport(attempt: attempt.id, outcome: outcome, exitCode: outcome == .failed ? 1 : nil, progress: "{\"step\":1}")
            return state.report(report, from: attempt.node, now: now, random: &random).mutations
        case 80..<88:
            var revived: [Mutation] = []
            for node in nodes where Bool.random(using: &random) { revived += state.touch(node: node, now: now).mutations }
            return revived + state.expireSilentNodes(now: now, ttlMilliseconds: 8000, random: &random).mutations
        case 88..<93:
            guard let job = state.jobs.keys.sorted().randomElement(using: &random) else { return [] }
            return (try? state.cancel(job, by: "alice", now: now))?.mutations ?? []
        default:
            let target = [NodeState.ready, .cordoned, .draining].randomElement(using: &random)!
            return (try? state.setNodeState(nodes.randomElement(using: &random)!, to: target, by: "admin", now: now))?.mutations ?? []
        }
    }
}

