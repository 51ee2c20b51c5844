import DroverCore
import DroverTesting
import Testing

/// Pack and spread: the pure placement rule, and how a lease passes work to a waiting node
/// that is a better home for it.
@Suite struct PackSpreadTests {
    func candidate(_ id: Int64, cpu: Int64, freeCPU: Int64, gpus: Int = 0, freeGPUs: Int = 0, labels: [String: String] = [:]) -> PlacementCandidate {
        PlacementCandidate(node: NodeID(id), capacity: Resources(millicores: cpu, memoryBytes: 8 * GiB, gpus: gpus),
                           free: Resources(millicores: freeCPU, memoryBytes: 8 * GiB, gpus: freeGPUs), labels: labels)
    }

    let oneCore = Resources(millicores: 1000, memoryBytes: 512 * MiB)

    @Test func packPicksThePartlyUsedNodeAndSpreadTheEmptyOne() {
        let empty = candidate(1, cpu: 8000, freeCPU: 8000)
        let half = candidate(2, cpu: 8000, freeCPU: 4000)
        let full = candidate(3, cpu: 8000, freeCPU: 500)
        let nodes = [empty, half, full]
        #expect(Placement.choose(oneCore, constraints: [], among: nodes, strategy: .pack)?.node == NodeID(2), "full cannot take it")
        #expect(Placement.choose(oneCore, constraints: [], among: nodes, strategy: .spread)?.node == NodeID(1))
    }

    @Test func packKeepsGPUNodesAndBigNodesFreeForTheWorkThatNeedsThem() {
        let gpu = candidate(1, cpu: 8000, freeCPU: 8000, gpus: 4, freeGPUs: 4)
        let small = candidate(2, cpu: 4000, freeCPU: 4000)
        let big = candidate(3, cpu: 64000, freeCPU: 64000)
        #expect(Placement.choose(oneCore, constraints: [], among: [gpu, small, big], strategy: .pack)?.node == NodeID(2))
        let twoGPUs = Resources(millicores: 1000, memoryBytes: GiB, gpus: 2)
        #expect(Placement.choose(twoGPUs, constraints: [], among: [gpu, small, big], strategy: .pack)?.node == NodeID(1))
    }

    @Test func tiesGoToTheLowerNodeIDAndConstraintsFilter() {
        let a = candidate(7, cpu: 4000, freeCPU: 4000, labels: ["zone": "us"])
        let b = candidate(3, cpu: 4000, freeCPU: 4000, labels: ["zone": "eu"])
        for strategy in PlacementStrategy.allCases {
            #expect(Placement.choose(oneCore, constraints: [], among: [a, b], strategy: strategy)?.node == NodeID(3))
            #expect(Placement.choose(oneCore, constraints: [Constraint(parsing: "zone=us")!], among: [a, b], strategy: strategy)?.node == NodeID(7))
        }
        #expect(Placement.choose(oneCore, constraints: [Constraint(parsing: "zone=ap")!], among: [a, b], strategy: .pack) == nil)
    }

    /// Three idle 4-core nodes all waiting; node 2 is the first to poll for four 1-core tasks.
    func leaseFourTasks(_ strategy: PlacementStrategy) throws -> [NodeID: Int] {
        var h = Harness(policy: ClusterPolicy(placement: strategy))
        let nodes = ["a", "b", "c"].map { h.register($0, cpu: 4000, memory: 8 * GiB) }
        try h.submit(makeSpec(kind: .batch, tasks: 4, cpu: 1000))
        for node in nodes { h.state.noteWaiting(node) }
        var placed: [NodeID: Int] = [:]
        // Whoever polls, then every node it hands work to, until nothing moves.
        var polling = [nodes[1]]
        while let node = polling.popLast() {
            for attempt in h.lease(node) { placed[attempt.node, default: 0] += 1 }
            h.state.noteWaiting(node)
            polling += h.takeHandoffs().sorted { $0.rawValue < $1.rawValue }
        }
        #expect(placed.values.reduce(0, +) == 4)
        return placed
    }

    @Test func packFillsOneNodeEvenWhenAnotherAsksFirst() throws {
        let placed = try leaseFourTasks(.pack)
        #expect(placed == [NodeID(1): 4], "\(placed)")
    }

    @Test func spreadUsesEveryWaitingNode() throws {
        let placed = try leaseFourTasks(.spread)
        #expect(placed.count == 3 && placed.values.max() == 2, "\(placed)")
    }

    @Test func aNodeNotWaitingIsNotWaitedFor() throws {
        // Pack prefers node 1, but its agent is busy elsewhere (not in a long poll): node 2 takes the work.
        var h = Harness()
        let first = h.register("a", cpu: 4000, memory: 8 * GiB)
        let second = h.register("b", cpu: 4000, memory: 8 * GiB)
        try h.submit(makeSpec(kind: .batch, tasks: 2, cpu: 1000))
        #expect(h.lease(second).count == 2)
        #expect(h.takeHandoffs().isEmpty)
        h.state.noteWaiting(first)
        _ = h.lease(first)
        #expect(!h.state.waitingNodes.contains(first), "a lease clears the node's waiting mark")
    }

    // MARK: - Backfill

    /// A 4-core node runs three 1-core tasks of team small with a 10-minute timeout; team big's
    /// 4-core job is reserved the node. Returns the harness, the node and the big job.
    func reservedNode() throws -> (Harness, NodeID, JobID) {
        var h = Harness(policy: ClusterPolicy(reserveAfterMilliseconds: 60_000))
        let node = h.register("n", cpu: 4000, memory: 64 * GiB)
        var small = makeSpec(name: "small", team: "small", kind: .batch, tasks: 3, cpu: 1000)
        small.timeoutMilliseconds = 600_000
        try h.submit(small)
        #expect(h.lease(node).count == 3)
        let big = try h.submit(makeSpec(name: "big", team: "big", cpu: 4000))
        h.advance(1000) // the big job is passed over from now on
        var other = makeSpec(name: "filler", team: "small", kind: .batch, tasks: 1, cpu: 1000)
        other.timeoutMilliseconds = 600_000
        try h.submit(other)
        #expect(h.lease(node).count == 1, "the filler takes the last core before anything is reserved")
        h.advance(120_000)
        return (h, node, big)
    }

    @Test func aReservedNodeBackfillsOnlyTasksThatEndBeforeTheReservedOneCouldStart() throws {
        var (h, node, big) = try reservedNode()
        // Every running task ends by its timeout, 10 minutes after it started, 8 minutes from now.
        h.report(h.state.activeAttempts.keys.sorted()[0], .succeeded, exitCode: 0)
        var long = makeSpec(name: "long", team: "small", kind: .batch, tasks: 1, cpu: 1000)
        long.timeoutMilliseconds = 3_600_000
        try h.submit(long)
        var untimed = makeSpec(name: "untimed", team: "small", kind: .batch, tasks: 1, cpu: 1000)
        untimed.timeoutMilliseconds = nil
        try h.submit(untimed)
        var short = makeSpec(name: "short", team: "small", kind: .batch, tasks: 2, cpu: 1000)
        short.timeoutMilliseconds = 300_000
        let shortID = try h.submit(short)
        let leased = h.lease(node)
        #expect(h.state.reservations[node] == big)
        #expect(leased.map(\.task.job) == [shortID], "only a task that surely ends in time backfills the free core")
        // Once everything on the node has ended, the big job starts.
        h.advance(600_000)
        for id in h.state.activeAttempts.keys.sorted() { h.report(id, .succeeded, exitCode: 0) }
        #expect(h.lease(node).first?.task.job == big)
        #expect(h.state.reservations.isEmpty)
    }

    @Test func noBackfillWhenARunningTaskHasNoTimeout() throws {
        var h = Harness(policy: ClusterPolicy(reserveAfterMilliseconds: 60_000))
        let node = h.register("n", cpu: 4000, memory: 64 * GiB)
        try h.submit(makeSpec(name: "small", team: "small", kind: .batch, tasks: 3, cpu: 1000)) // no timeout
        #expect(h.lease(node).count == 3)
        let big = try h.submit(makeSpec(name: "big", team: "big", cpu: 4000))
        h.advance(1000)
        var filler = makeSpec(name: "filler", team: "small", kind: .batch, tasks: 1, cpu: 1000)
        filler.timeoutMilliseconds = 60_000
        try h.submit(filler)
        #expect(h.lease(node).count == 1)
        h.advance(120_000)
        h.report(h.state.activeAttempts.keys.sorted()[3], .succeeded, exitCode: 0)
        var short = makeSpec(name: "short", team: "small", kind: .batch, tasks: 1, cpu: 1000)
        short.timeoutMilliseconds = 1000
        try h.submit(short)
        #expect(h.lease(node).isEmpty, "when the big task can start is unknown, nothing may delay it")
        #expect(h.state.reservations[node] == big)
    }
}
