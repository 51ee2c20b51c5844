import DroverCore
import Testing

@Suite struct SubmitAndRegisterTests {
    @Test func submitQueuesTheJobWithAnEvent() throws {
        var h = Harness()
        let submitted = try h.state.submit(makeSpec(name: "train"), by: "alice", now: h.now)
        let (record, mutations) = (submitted.value, submitted.mutations)
        #expect(record.id == JobID(1))
        #expect(record.state == .queued && record.submittedAt == h.now && record.submittedBy == "alice" && record.nextUnstarted == 0)
        #expect(mutations.count == 2)
        #expect(mutations[0].job == record)
        let event = try #require(mutations[1].event)
        #expect(event.subject == "job/1" && event.job == JobID(1) && event.from == nil && event.to == "queued" && event.actor == "alice")
        #expect(h.state.pendingJobs == [JobID(1)])
        #expect(h.job(record.id).queued == 1)
        let second = try h.state.submit(makeSpec(), by: "bob", now: h.now).value
        #expect(second.id == JobID(2))
    }

    @Test func submitRefusesWhatNoNodeCouldEverHold() throws {
        var h = Harness()
        // With no node registered yet, anything is accepted (nodes may join later).
        try h.submit(makeSpec(cpu: 64_000))
        h.register("a", cpu: 4000, memory: 8 * GiB, labels: ["zone": "eu"])
        #expect(throws: ClusterError.self) { try h.submit(makeSpec(cpu: 8000)) }
        #expect(throws: ClusterError.self) { try h.submit(makeSpec(memory: 16 * GiB)) }
        #expect(throws: ClusterError.self) { try h.submit(makeSpec(gpus: 1)) }
        #expect(throws: ClusterError.self) { try h.submit(makeSpec(constraints: ["zone=us"])) }
        let before = h.state.jobs.count
        #expect(before == 1, "a refused job changes nothing")
        try h.submit(makeSpec(cpu: 4000, memory: 8 * GiB, constraints: ["zone=eu"]))
    }

    @Test func registerCreatesAReadyNode() throws {
        var h = Harness()
        let registered = h.state.register(
            name: "gpu-1", capacity: Resources(millicores: 8000, memoryBytes: 32 * GiB, gpus: 2), gpuIndices: [1, 0],
            labels: ["zone": "eu"], prices: Prices(cpuHourMicros: 1), tokenHash: "abc", now: h.now, random: &h.random)
        let (record, mutations) = (registered.value, registered.mutations)
        #expect(record.id == NodeID(1) && record.state == .ready && record.name == "gpu-1")
        #expect(mutations.count == 2 && mutations[0].node == record && mutations[1].event?.subject == "node/n1")
        let node = try #require(h.state.nodes[record.id])
        #expect(node.freeGPUs == [0, 1] && node.allocated == .zero && node.free == record.capacity)
        #expect(h.state.nodeIDsByTokenHash["abc"] == record.id)
    }

    @Test func reRegisteringTakesOverTheNodeAndLosesItsAttempts() throws {
        var h = Harness()
        let node = h.register("a")
        let job = try h.submit(makeSpec(retry: RetryPolicy(maxAttempts: 1)))
        let attempt = try #require(h.lease(node).first)
        let oldHash = h.state.nodes[node]!.record.tokenHash
        h.advance(1000)
        let again = h.register("a", cpu: 2000)
        #expect(again == node)
        #expect(h.state.nodeIDsByTokenHash[oldHash] == nil)
        #expect(h.state.activeAttempts[attempt.id] == nil)
        #expect(h.state.nodes[node]!.allocated == .zero && h.state.nodes[node]!.record.capacity.millicores == 2000)
        let task = try #require(h.job(job).tasks[0])
        #expect(task.state == .queued && task.lost == 1 && task.failures == 0)
    }
}

@Suite struct LeaseTests {
    @Test func leasesNoMoreThanTheCPUOfTheNode() throws {
        var h = Harness()
        let node = h.register("a", cpu: 4000, memory: 64 * GiB)
        let job = try h.submit(makeSpec(kind: .batch, tasks: 10, cpu: 1000))
        #expect(h.lease(node).count == 4)
        #expect(h.state.nodes[node]!.free.millicores == 0)
        #expect(h.lease(node).isEmpty)
        #expect(h.job(job).running == 4 && h.job(job).queued == 6)
    }

    @Test func leasesNoMoreThanTheMemoryOfTheNode() throws {
        var h = Harness()
        let node = h.register("a", cpu: 64_000, memory: 8 * GiB)
        try h.submit(makeSpec(kind: .batch, tasks: 10, memory: 3 * GiB))
        #expect(h.lease(node).count == 2)
        #expect(h.state.nodes[node]!.free.memoryBytes == 2 * GiB)
    }

    @Test func respectsTheLimit() throws {
        var h = Harness()
        let node = h.register("a", cpu: 64_000, memory: 64 * GiB)
        try h.submit(makeSpec(kind: .batch, tasks: 10))
        #expect(h.lease(node, limit: 3).count == 3)
        #expect(h.lease(node, limit: 0).isEmpty)
    }

    @Test func givesOutDistinctGPUsAndTakesThemBackWhenAttemptsEnd() throws {
        var h = Harness()
        let node = h.register("g", cpu: 64_000, memory: 64 * GiB, gpus: [0, 1, 2, 3])
        try h.submit(makeSpec(kind: .batch, tasks: 5, gpus: 2))
        let first = h.lease(node)
        #expect(first.count == 2)
        #expect(Set(first.flatMap(\.gpuIndices)) == [0, 1, 2, 3])
        #expect(first.allSatisfy { $0.gpuIndices.count == 2 && $0.allocation.gpus == 2 })
        #expect(h.state.nodes[node]!.freeGPUs.isEmpty)
        #expect(h.report(first[0].id, .succeeded, exitCode: 0).isAccepted)
        #expect(h.state.nodes[node]!.freeGPUs == first[0].gpuIndices.sorted())
        let next = try #require(h.lease(node).first)
        #expect(next.gpuIndices.sorted() == first[0].gpuIndices.sorted())
        #expect(Set(next.gpuIndices).isDisjoint(with: first[1].gpuIndices))
    }

    @Test func cpuOnlyTasksDoNotTakeGPUs() throws {
        var h = Harness()
        let node = h.register("g", gpus: [0, 1])
        try h.submit(makeSpec(kind: .batch, tasks: 2))
        #expect(h.lease(node).allSatisfy { $0.gpuIndices.isEmpty })
        #expect(h.state.nodes[node]!.freeGPUs == [0, 1])
    }

    @Test func honoursEqualAndNotEqualConstraints() throws {
        var h = Harness()
        let eu = h.register("eu", labels: ["zone": "eu"])
        let us = h.register("us", labels: ["zone": "us"])
        let euJob = try h.submit(makeSpec(name: "eu-only", constraints: ["zone=eu"]))
        let notEUJob = try h.submit(makeSpec(name: "not-eu", constraints: ["zone!=eu"]))
        let onUS = h.lease(us)
        #expect(onUS.map(\.task.job) == [notEUJob])
        let onEU = h.lease(eu)
        #expect(onEU.map(\.task.job) == [euJob])
    }

    @Test func higherPriorityFirstThenSubmissionOrder() throws {
        var h = Harness()
        let node = h.register("a", cpu: 1000)
        let low1 = try h.submit(makeSpec(name: "low1"))
        let high = try h.submit(makeSpec(name: "high", priority: 5))
        let low2 = try h.submit(makeSpec(name: "low2"))
        let urgent = try h.submit(makeSpec(name: "urgent", priority: 100))
        let negative = try h.submit(makeSpec(name: "background", priority: -3))
        #expect(h.state.pendingJobs == [urgent, high, low1, low2, negative])
        var order: [JobID] = []
        for _ in 0..<5 {
            let attempt = try #require(h.lease(node).first)
            order.append(attempt.task.job)
            h.report(attempt.id, .succeeded, exitCode: 0)
        }
        #expect(order == [urgent, high, low1, low2, negative])
    }

    @Test func aJobThatDoesNotFitNowDoesNotBlockSmallerOnes() throws {
        var h = Harness()
        let node = h.register("a", cpu: 4000)
        let first = try h.submit(makeSpec(name: "first", cpu: 1000))
        #expect(h.lease(node).map(\.task.job) == [first])
        let big = try h.submit(makeSpec(name: "big", cpu: 4000, priority: 10))
        let small = try h.submit(makeSpec(name: "small", kind: .batch, tasks: 5, cpu: 1000))
        #expect(h.lease(node).map(\.task.job) == [small, small, small])
        #expect(h.state.pendingJobs == [big, small])
    }

    @Test func leaseMutationsPersistTaskAttemptAndJobOnce() throws {
        var h = Harness()
        let node = h.register("a", cpu: 64_000, memory: 64 * GiB)
        let job = try h.submit(makeSpec(kind: .batch, tasks: 5))
        let leased = h.state.lease(node: node, limit: 3, now: h.now)
        let (leases, mutations) = (leased.value, leased.mutations)
        #expect(leases.count == 3)
        #expect(mutations.compactMap(\.task).map(\.ref.index) == [0, 1, 2])
        #expect(mutations.compactMap(\.attempt).map(\.number) == [1, 1, 1])
        let jobs = mutations.compactMap(\.job)
        #expect(jobs.count == 1 && jobs[0].nextUnstarted == 3 && jobs[0].state == .running && jobs[0].startedAt == h.now)
        #expect(mutations.compactMap(\.event).filter { $0.subject == "job/\(job)" }.map(\.to) == ["running"])
        // Attempt ids are fencing tokens: strictly increasing.
        #expect(leases.map(\.attempt.id) == leases.map(\.attempt.id).sorted() && Set(leases.map(\.attempt.id)).count == 3)
    }

    @Test func cordonedAndDrainingNodesGetNoLeases() throws {
        var h = Harness()
        let node = h.register("a")
        try h.submit(makeSpec())
        for state in [NodeState.cordoned, .draining] {
            _ = try h.state.setNodeState(node, to: state, by: "admin", now: h.now)
            #expect(h.lease(node).isEmpty)
        }
        _ = try h.state.setNodeState(node, to: .ready, by: "admin", now: h.now)
        #expect(h.lease(node).count == 1)
    }
}
