import DroverCore
import DroverTesting
import Testing

/// Starvation: a large task at the head of its team's line is not kept off a node forever by
/// a stream of small ones.
@Suite struct ReservationTests {
    /// One 4-core node; team big wants a 4-core task; team small streams 1-core tasks, each
    /// running 10 minutes, and a new one is leased whenever a core frees up. Returns the minutes
    /// after which the big task started, or nil if it did not within `minutes`.
    func bigTaskStart(reserveAfter: Int64?, minutes: Int = 240) throws -> Int? {
        var h = Harness(policy: ClusterPolicy(reserveAfterMilliseconds: reserveAfter))
        let node = h.register("n", cpu: 4000, memory: 64 << 30)
        try h.submit(makeSpec(name: "small", team: "small", kind: .batch, tasks: 10_000, cpu: 1000))
        var ends: [AttemptID: Timestamp] = [:]
        for attempt in h.lease(node) { ends[attempt.id] = h.now.adding(milliseconds: 600_000) }
        let big = try h.submit(makeSpec(name: "big", team: "big", cpu: 4000))
        // Small tasks end staggered, one every 2.5 minutes, so a core frees up often but never all four.
        var shift: Int64 = 0
        for id in ends.keys.sorted() { ends[id] = ends[id]!.adding(milliseconds: shift); shift += 150_000 }
        for minute in 1...minutes {
            h.advance(60_000)
            for (id, end) in ends where end <= h.now {
                h.report(id, .succeeded, exitCode: 0)
                ends[id] = nil
            }
            for attempt in h.lease(node) {
                if attempt.task.job == big { return minute }
                ends[attempt.id] = h.now.adding(milliseconds: 600_000)
            }
        }
        return nil
    }

    @Test func withoutReservationsTheLargeTaskStarves() throws {
        #expect(try bigTaskStart(reserveAfter: nil) == nil)
    }

    @Test func aReservedNodeDrainsForTheStarvingTaskAndThenTakesAnyWork() throws {
        // After 5 minutes without a lease the node is reserved; the small tasks on it end
        // within their 10-minute run (plus the stagger), and the big task starts.
        let start = try #require(try bigTaskStart(reserveAfter: 300_000))
        #expect(start > 5 && start <= 5 + 10 + 8, "started after \(start) min")
    }

    @Test func aJobHeldBackByItsTeamsQuotaGetsNoReservation() throws {
        var h = Harness()
        let node = h.register("n", cpu: 4000, memory: 64 << 30)
        h.mutations += h.state.setQuota(Quota(runningTasks: 1), for: "capped", by: "admin", now: h.now).mutations
        try h.submit(makeSpec(name: "capped", team: "capped", kind: .batch, tasks: 4, cpu: 1000))
        try h.submit(makeSpec(name: "filler", team: "other", kind: .batch, tasks: 100, cpu: 1000))
        #expect(h.lease(node).count == 4) // 1 of capped (its quota), 3 of other
        h.advance(600_000)
        _ = h.lease(node)
        #expect(h.state.reservations.isEmpty, "waiting on its own quota is policy, not starvation")
    }
}
