import DroverCore
import DroverTesting
import Testing
@testable import DroverCoordinator

/// `pendingReason`: what `drover job show` says about queued tasks.
@Suite struct PendingReasonTests {
    let now = Timestamp(milliseconds: 1_790_000_000_000)

    func spec(_ name: String, team: String, priority: Int = 0) -> JobSpec {
        JobSpec(name: name, team: team, kind: .batch, taskCount: 4, command: ["true"],
                resources: Resources(millicores: 1000, memoryBytes: 1 << 20, gpus: 0), priority: priority)
    }

    @Test func aQueuedJobSaysWhatIsAheadOfIt() throws {
        var state = ClusterState()
        var random = SplitMix64(seed: 1)
        let node = state.register(name: "n1", capacity: Resources(millicores: 2000, memoryBytes: 1 << 30, gpus: 0), gpuIndices: [],
                                       labels: [:], prices: Prices(), tokenHash: "h", now: now, random: &random).value
        let urgent = try state.submit(spec("urgent", team: "ml", priority: 5), by: "a", now: now).value
        let older = try state.submit(spec("older", team: "ml"), by: "a", now: now).value
        _ = try state.submit(spec("theirs", team: "cv", priority: 9), by: "a", now: now)
        let mine = try state.submit(spec("mine", team: "ml"), by: "a", now: now).value
        _ = state.lease(node: node.id, limit: 10, now: now) // the node is full
        let reason = Cluster.pendingReason(state.jobs[mine.id]!, in: state, now: now)
        #expect(reason == "waiting for free capacity; behind 1 higher-priority job(s) and 1 older job(s) of the same priority of team ml; "
                + "1 job(s) of other teams share the capacity by fair share", "\(reason)")
        #expect(state.jobs[urgent.id] != nil && state.jobs[older.id] != nil)
    }

    @Test func aTeamOverItsBudgetSaysSoAndWhenItResets() throws {
        var state = ClusterState()
        var random = SplitMix64(seed: 1)
        _ = state.register(name: "n1", capacity: Resources(millicores: 2000, memoryBytes: 1 << 30, gpus: 0), gpuIndices: [],
                           labels: [:], prices: Prices(cpuHourMicros: 3_600_000), tokenHash: "h", now: now, random: &random)
        let job = try state.submit(spec("mine", team: "ml"), by: "a", now: now).value
        _ = state.setQuota(Quota(budget: Budget(amountMicros: 0, period: .month)), for: "ml", by: "admin", now: now)
        let reason = Cluster.pendingReason(state.jobs[job.id]!, in: state, now: now)
        #expect(reason.hasPrefix("team budget: 0.00 of 0.00 USD per month spent; no new leases until "), "\(reason)")
    }
}
