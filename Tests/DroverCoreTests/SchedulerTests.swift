@testable import DroverCore
import Testing

/// The scheduler's pure steps, called on states built with the harness; they change nothing.
@Suite struct SchedulerTests {
    func best(_ h: Harness, _ node: NodeID, endingBy end: Timestamp? = nil, passedOver: Set<JobID> = []) -> JobID? {
        var overBudget: [String: Bool] = [:]
        return Scheduler.bestJob(for: h.state.pool.nodes[node]!, queue: h.state.queue, teams: h.state.teams, accounting: h.state.accounting,
                                 capacity: h.state.pool.readyCapacity, now: h.now, endingBy: end, passedOver: passedOver, overBudget: &overBudget)
    }

    @Test func choiceIsTheTeamWithTheSmallestShareThenPriority() throws {
        var h = Harness()
        let node = h.register("n", cpu: 8000, memory: 64 << 30)
        let heavy = try h.submit(makeSpec(name: "a", team: "heavy", kind: .batch, tasks: 10, cpu: 1000, priority: 9))
        let light = try h.submit(makeSpec(name: "b", team: "light", kind: .batch, tasks: 10, cpu: 1000))
        #expect(best(h, node) == heavy, "equal shares: priority decides")
        _ = h.lease(node, limit: 1)
        #expect(best(h, node) == light, "heavy now holds a share, light none")
        #expect(best(h, node, passedOver: [light]) == heavy)
        #expect(h.state.activeAttempts.count == 1, "choosing leases nothing")
    }

    @Test func backfillCountsOnlyJobsThatEndInTime() throws {
        var h = Harness()
        let node = h.register("n", cpu: 8000, memory: 64 << 30)
        var short = makeSpec(name: "short", team: "a", cpu: 1000)
        short.timeoutMilliseconds = 60_000
        let untimed = try h.submit(makeSpec(name: "untimed", team: "b", cpu: 1000, priority: 5))
        let timed = try h.submit(short)
        #expect(best(h, node, endingBy: h.now.adding(milliseconds: 60_000)) == timed)
        #expect(best(h, node, endingBy: h.now.adding(milliseconds: 59_999)) == nil)
        #expect(best(h, node) == untimed)
    }

    @Test func reservedStartIsWhenEnoughRunningWorkHasTimedOut() throws {
        var h = Harness()
        let node = h.register("n", cpu: 4000, memory: 64 << 30)
        var spec = makeSpec(kind: .batch, tasks: 4, cpu: 1000)
        spec.timeoutMilliseconds = 600_000
        try h.submit(spec)
        let start = h.now
        #expect(h.lease(node).count == 4)
        let pool = h.state.pool, queue = h.state.queue
        let two = Resources(millicores: 2000, memoryBytes: 1 << 20, gpus: 0)
        #expect(Scheduler.reservedStart(of: two, on: pool.nodes[node]!, pool: pool, queue: queue, now: h.now) == start.adding(milliseconds: 600_000))
    }

    @Test func aWaitingNodeIsABetterHomeUnderPackOnlyWhenItIsFuller() throws {
        var h = Harness(policy: ClusterPolicy(placement: .pack))
        let empty = h.register("empty", cpu: 4000, memory: 8 << 30)
        let busy = h.register("busy", cpu: 4000, memory: 8 << 30)
        try h.submit(makeSpec(name: "filler", cpu: 2000))
        _ = h.lease(busy)
        h.state.noteWaiting(busy)
        let spec = makeSpec(cpu: 1000)
        #expect(Scheduler.betterWaitingNode(for: spec, than: h.state.pool.nodes[empty]!, pool: h.state.pool, strategy: .pack) == busy)
        #expect(Scheduler.betterWaitingNode(for: spec, than: h.state.pool.nodes[empty]!, pool: h.state.pool, strategy: .spread) == nil)
    }
}
