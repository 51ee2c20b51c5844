import DroverCore
import DroverTesting
import Testing

@Suite struct QuotaTests {
    @Test func aTeamNeverHoldsMoreThanItsQuota() throws {
        // Given team ml limited to 3 cores and 2 running tasks on a 16-core node,
        var h = Harness()
        let node = h.register("big", cpu: 16_000, memory: 64 << 30)
        h.mutations += h.state.setQuota(Quota(millicores: 3000, runningTasks: 2), for: "ml", by: "admin", now: h.now).mutations
        let job = try h.submit(makeSpec(team: "ml", kind: .batch, tasks: 10, cpu: 1000))
        // when it leases, it gets 2 (the running-task limit), however many it asks for,
        #expect(h.lease(node).count == 2)
        #expect(h.lease(node).isEmpty)
        #expect(h.state.teamUsage["ml"]?.running == 2)
        // and one more only when one ends.
        let running = h.state.activeAttempts.keys.sorted()
        h.report(running[0], .succeeded, exitCode: 0)
        #expect(h.lease(node).count == 1)
        #expect(h.job(job).running == 2)
    }

    @Test func aTaskLargerThanTheQuotaIsRefusedAtSubmit() throws {
        var h = Harness()
        h.register("big", cpu: 16_000, memory: 64 << 30, gpus: [0, 1, 2, 3])
        h.mutations += h.state.setQuota(Quota(gpus: 1), for: "vision", by: "admin", now: h.now).mutations
        #expect(throws: ClusterError.self) { try h.submit(makeSpec(team: "vision", gpus: 2)) }
        try h.submit(makeSpec(team: "vision", gpus: 1))
    }

    @Test func contendedCapacityGoesToTheTeamWithTheSmallestDominantShare() throws {
        // Given team a with a big early job and team b with a later one, on one 4-core node,
        var h = Harness()
        let node = h.register("n", cpu: 4000, memory: 64 << 30)
        try h.submit(makeSpec(name: "a-first", team: "a", kind: .batch, tasks: 100, cpu: 1000))
        try h.submit(makeSpec(name: "b-later", team: "b", kind: .batch, tasks: 100, cpu: 1000))
        // when leases are handed out one by one, the teams alternate (FIFO alone would give a everything).
        var teams: [String] = []
        for _ in 0..<4 {
            let attempt = try #require(h.lease(node, limit: 1).first)
            teams.append(h.job(attempt.task.job).record.spec.team)
        }
        #expect(teams.sorted() == ["a", "a", "b", "b"])
        #expect(h.state.teamUsage["a"]?.running == 2 && h.state.teamUsage["b"]?.running == 2)
    }

    @Test func weightsSkewTheShares() throws {
        var h = Harness()
        let node = h.register("n", cpu: 6000, memory: 64 << 30)
        h.mutations += h.state.setQuota(Quota(weight: 2), for: "heavy", by: "admin", now: h.now).mutations
        try h.submit(makeSpec(team: "heavy", kind: .batch, tasks: 100))
        try h.submit(makeSpec(team: "light", kind: .batch, tasks: 100))
        for _ in 0..<6 { _ = h.lease(node, limit: 1) }
        #expect(h.state.teamUsage["heavy"]?.running == 4)
        #expect(h.state.teamUsage["light"]?.running == 2)
    }

    @Test(arguments: 0..<30)
    func randomClustersNeverExceedQuotaOrCapacityOrShareAGPU(seed: UInt64) throws {
        var h = Harness(seed: seed)
        var rng = SplitMix64(seed: seed)
        let nodes = (0..<3).map { h.register("n\($0)", cpu: Int64.random(in: 2...8, using: &rng) * 1000, memory: 16 << 30, gpus: Array(0..<Int.random(in: 0...4, using: &rng))) }
        let teams = ["a", "b", "c"]
        for team in teams {
            h.mutations += h.state.setQuota(Quota(millicores: Int64.random(in: 1...6, using: &rng) * 1000, gpus: Int.random(in: 0...3, using: &rng),
                                                  runningTasks: Int.random(in: 1...5, using: &rng)), for: team, by: "admin", now: h.now).mutations
            for _ in 0..<2 {
                _ = try? h.submit(makeSpec(team: team, kind: .batch, tasks: Int.random(in: 1...20, using: &rng),
                                           cpu: Int64.random(in: 1...2, using: &rng) * 1000, gpus: Int.random(in: 0...1, using: &rng)))
            }
        }
        for _ in 0..<200 {
            if Bool.random(using: &rng) {
                _ = h.lease(nodes.randomElement(using: &rng)!, limit: Int.random(in: 1...4, using: &rng))
            } else if let attempt = h.state.activeAttempts.keys.randomElement(using: &rng) {
                h.report(attempt, .succeeded, exitCode: 0)
            }
            for team in teams {
                let usage = h.state.teamUsage[team] ?? TeamUsage()
                let quota = h.state.quota(of: team)
                #expect(usage.allocated.millicores <= quota.millicores! && usage.allocated.gpus <= quota.gpus! && usage.running <= quota.runningTasks!)
            }
            let ready = h.state.nodes.values.filter { $0.record.state.acceptsLeases }.reduce(Resources.zero) { $0 + $1.record.capacity }
            #expect(h.state.readyCapacity == ready, "the kept ready capacity drifted")
            for job in h.state.pendingJobs { #expect(h.state.pendingByTeam[h.state.jobs[job]!.record.spec.team]?.contains(job) == true) }
            #expect(h.state.pendingByTeam.values.reduce(0) { $0 + $1.count } == h.state.pendingJobs.count)
            for node in nodes {
                let runtime = h.state.nodes[node]!
                #expect(runtime.record.capacity.millicores >= runtime.allocated.millicores)
                let gpus = runtime.active.flatMap { h.state.activeAttempts[$0]!.gpuIndices }
                #expect(Set(gpus).count == gpus.count, "a GPU given twice")
            }
        }
    }
}
