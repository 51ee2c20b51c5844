import DroverCore
import DroverTesting
import Testing

/// Cheapest placement: among nodes that fit, the lowest rate for the task's resources, then
/// pack; and an estimate that the charged cost of a task never exceeds.
@Suite struct CheapestPlacementTests {
    let oneCore = Resources(millicores: 1000, memoryBytes: 512 * MiB)

    func candidate(_ id: Int64, freeCPU: Int64, cpuHour: String, gpuHour: String = "0", gpus: Int = 0) -> PlacementCandidate {
        PlacementCandidate(node: NodeID(id), capacity: Resources(millicores: 8000, memoryBytes: 8 * GiB, gpus: gpus),
                           free: Resources(millicores: freeCPU, memoryBytes: 8 * GiB, gpus: gpus), labels: [:],
                           prices: Prices(cpuHourMicros: price(cpuHour), gpuHourMicros: price(gpuHour)))
    }

    @Test func theLowestRateForTheTasksResourcesWinsThenPack() {
        let pricey = candidate(1, freeCPU: 4000, cpuHour: "360")
        let free = candidate(2, freeCPU: 8000, cpuHour: "0")
        let alsoFree = candidate(3, freeCPU: 2000, cpuHour: "0")
        // The free nodes beat the one that pack would pick; between them, pack (the fuller one).
        #expect(Placement.choose(oneCore, constraints: [], among: [pricey, free], strategy: .pack)?.node == NodeID(1))
        #expect(Placement.choose(oneCore, constraints: [], among: [pricey, free], strategy: .cheapest)?.node == NodeID(2))
        #expect(Placement.choose(oneCore, constraints: [], among: [pricey, free, alsoFree], strategy: .cheapest)?.node == NodeID(3))
        // Only the rates of what the task holds count: a dear GPU rate does not matter to a CPU task.
        let gpuNode = candidate(4, freeCPU: 8000, cpuHour: "0.01", gpuHour: "100", gpus: 4)
        let cpuNode = candidate(5, freeCPU: 8000, cpuHour: "0.02")
        #expect(Placement.choose(oneCore, constraints: [], among: [gpuNode, cpuNode], strategy: .cheapest)?.node == NodeID(4))
    }

    @Test func aLeaseHandsATaskToACheaperWaitingNodeAndTheEstimateBoundsItsCost() throws {
        // Given a node at 360 per cpu-hour and a free one, both waiting, under cheapest placement,
        var h = Harness(policy: ClusterPolicy(placement: .cheapest))
        let pricey = h.register("pricey", cpu: 4000, memory: 8 * GiB, prices: Prices(cpuHourMicros: price("360")))
        let free = h.register("free", cpu: 4000, memory: 8 * GiB)
        var spec = makeSpec(kind: .batch, tasks: 5, cpu: 1000)
        spec.expectedDurationMilliseconds = 10_000
        // the estimate is at the dearer node's rates (5 × 1 core × 10 s × 360/h = 5.00),
        let estimate = h.state.estimate(spec, now: h.now)
        #expect(estimate.totalMicros == 5_000_000 && estimate.basis.contains("pricey"), "\(estimate.basis)")
        let job = try h.submit(spec)
        h.state.noteWaiting(pricey)
        h.state.noteWaiting(free)
        // when the dear node polls first, it hands the work to the free one, which takes four tasks;
        #expect(h.lease(pricey).isEmpty)
        #expect(h.takeHandoffs() == [free])
        #expect(h.lease(free).count == 4)
        // the fifth, with the free node full, goes to the dear one;
        #expect(h.lease(pricey).count == 1)
        // and what each task is charged for its expected duration stays within the estimate.
        h.book(every: 10_000, times: 1)
        for attempt in h.state.activeAttempts.values { h.report(attempt.id, .succeeded, exitCode: 0) }
        #expect(h.job(job).record.state == .succeeded)
        #expect(h.job(job).costMicros == 1_000_000 && h.job(job).costMicros <= estimate.totalMicros!)
    }
}
