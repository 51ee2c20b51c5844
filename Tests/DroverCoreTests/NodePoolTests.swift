@testable import DroverCore
import Testing

/// The node pool alone: ready capacity, holding and releasing attempts, waiting and silence.
@Suite struct NodePoolTests {
    let t0 = Timestamp(milliseconds: 1_000_000)

    func record(_ id: Int64, cpu: Int64 = 4000, gpus: [Int] = []) -> NodeRecord {
        NodeRecord(id: NodeID(id), name: "n\(id)", capacity: Resources(millicores: cpu, memoryBytes: 8 << 30, gpus: gpus.count), gpuIndices: gpus,
                   labels: [:], prices: Prices(), registeredAt: t0, tokenHash: "h\(id)")
    }

    @Test func readyCapacityFollowsNodeStates() {
        var pool = NodePool()
        pool.put(record(1), now: t0)
        pool.put(record(2, cpu: 2000), now: t0)
        #expect(pool.readyCapacity.millicores == 6000 && pool.lastNodeID == 2)
        pool.update(NodeID(2)) { $0.state = .cordoned }
        #expect(pool.readyCapacity.millicores == 4000)
        pool.update(NodeID(2)) { $0.state = .ready }
        #expect(pool.readyCapacity.millicores == 6000)
    }

    @Test func holdingAndReleasingAnAttemptBalancesItsNode() {
        var pool = NodePool()
        pool.put(record(1, gpus: [2, 0, 1]), now: t0)
        let id = pool.nextAttemptID()
        let attempt = AttemptRecord(id: id, task: TaskRef(job: JobID(1), index: 0), number: 1, node: NodeID(1),
                                    allocation: Resources(millicores: 1000, memoryBytes: 1 << 30, gpus: 1), gpuIndices: [1], startedAt: t0)
        pool.hold(attempt)
        #expect(pool.nodes[NodeID(1)]!.allocated.millicores == 1000 && pool.nodes[NodeID(1)]!.freeGPUs == [0, 2])
        #expect(pool.nodes[NodeID(1)]!.active == [id] && pool.activeAttempts[id] != nil)
        let released = pool.release(id)
        #expect(released?.id == id)
        #expect(pool.nodes[NodeID(1)]!.allocated == .zero && pool.nodes[NodeID(1)]!.freeGPUs == [0, 1, 2] && pool.activeAttempts.isEmpty)
        let releasedAgain = pool.release(id)
        #expect(releasedAgain == nil)
    }

    @Test func onlyNodesThatTakeLeasesWaitAndSilenceIsMeasuredFromLastSeen() {
        var pool = NodePool()
        pool.put(record(1), now: t0)
        pool.put(record(2), now: t0)
        pool.update(NodeID(2)) { $0.state = .draining }
        pool.noteWaiting(NodeID(1))
        pool.noteWaiting(NodeID(2))
        #expect(pool.waitingNodes == [NodeID(1)])
        let stopped = pool.stopWaiting(NodeID(1))
        let stoppedAgain = pool.stopWaiting(NodeID(1))
        #expect(stopped && !stoppedAgain)
        #expect(pool.silentNodes(now: t0.adding(milliseconds: 10_001), ttlMilliseconds: 10_000) == [NodeID(1), NodeID(2)])
        pool.forgiveSilence(milliseconds: 5000, now: t0.adding(milliseconds: 10_001))
        #expect(pool.silentNodes(now: t0.adding(milliseconds: 10_001), ttlMilliseconds: 10_000).isEmpty)
    }
}

/// An attempt its agent's heartbeats do not list is lost only after a full orphan age of the
/// coordinator's own running time: a stall of the coordinator restarts that age.
@Suite struct OrphanAfterStallTests {
    @Test func heartbeatsQueuedDuringACoordinatorStallDoNotLoseALeaseWhoseAnswerWasUnsent() throws {
        var h = Harness()
        let node = h.register("n", cpu: 4000)
        try h.submit(makeSpec())
        let attempt = try #require(h.lease(node).first)
        // Given the coordinator was stalled 30 s right after the lease (the answer not yet sent),
        h.advance(30_000)
        h.state.forgiveSilence(milliseconds: 30_000, now: h.now)
        // heartbeats sent meanwhile, without the attempt, do not make it lost;
        _ = h.heartbeat(node, [:])
        #expect(h.state.activeAttempts[attempt.id] != nil)
        // one that still does not list it a full orphan age (20 s) after the stall does.
        h.advance(20_001)
        _ = h.heartbeat(node, [:])
        #expect(h.state.activeAttempts[attempt.id] == nil)
    }

    @Test func aLeaseIsJudgedOnlyFromWhenItsAnswerWasSentNotFromWhenItWasMade() throws {
        var h = Harness()
        let node = h.register("n", cpu: 4000)
        try h.submit(makeSpec())
        // Given a lease whose commit waits on a stalled disk (made, not yet answered),
        let leased = h.state.lease(node: node, limit: 1, now: h.now)
        let attempt = try #require(leased.value.first).attempt.id
        // heartbeats that cannot list it yet, however late, do not make it lost;
        h.advance(60_000)
        _ = h.heartbeat(node, [:])
        #expect(h.state.activeAttempts[attempt] != nil)
        // once answered, its agent gets a full orphan age (20 s) to list it.
        h.state.noteLeasesAnswered([attempt], now: h.now)
        h.advance(19_000)
        _ = h.heartbeat(node, [:])
        #expect(h.state.activeAttempts[attempt] != nil)
        h.advance(1_001)
        _ = h.heartbeat(node, [:])
        #expect(h.state.activeAttempts[attempt] == nil)
        #expect(h.state.pool.answeredAt[attempt] == nil, "forgotten with the lease")
    }
}
