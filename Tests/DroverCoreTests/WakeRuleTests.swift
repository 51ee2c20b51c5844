import DroverCore
import DroverTesting
import Testing

/// The wake rule, alone and as the operations apply it: whose long polls a transition wakes.
@Suite struct WakeRuleTests {
    let a = NodeID(1), b = NodeID(2)

    // MARK: - The rule

    @Test func reportsWakeTheirOwnPollUnlessTheyHelpOthersOrTookLeases() {
        #expect(WakeRule.afterReports(of: a, changed: true, mayHelpOtherNodes: false, tookLeases: false) == .nodes([a]))
        #expect(WakeRule.afterReports(of: a, changed: true, mayHelpOtherNodes: false, tookLeases: true) == .none)
        #expect(WakeRule.afterReports(of: a, changed: false, mayHelpOtherNodes: false, tookLeases: false) == .none)
        #expect(WakeRule.afterReports(of: a, changed: true, mayHelpOtherNodes: true, tookLeases: true) == .all)
        #expect(WakeRule.afterReports(of: a, changed: true, mayHelpOtherNodes: true, tookLeases: false) == .all)
        #expect(WakeRule.afterHeartbeat(changed: true) == .all && WakeRule.afterHeartbeat(changed: false) == .none)
    }

    @Test func pollsAddTheNodesToldToCancelAndTheNodesHandedWork() {
        #expect(Effects().polls == .none && Effects().isEmpty)
        #expect(Effects(handoffs: [b]).polls == .nodes([b]))
        #expect(Effects(wake: .nodes([a]), cancels: [b: [AttemptID(3)]]).polls == .nodes([a, b]))
        #expect(Effects(wake: .all, handoffs: [b]).polls == .all)
        var wake = Wake.none
        wake.formUnion(.nodes([a]))
        wake.formUnion(.nodes([b]))
        #expect(wake == .nodes([a, b]))
        wake.formUnion(.all)
        wake.formUnion(.nodes([a]))
        #expect(wake == .all)
    }

    // MARK: - As the operations apply it

    @Test func submissionsRegistrationsQuotaAndNodeStateChangesWakeEveryPoll() throws {
        var h = Harness()
        let node = h.state.register(name: "n", capacity: Resources(millicores: 4000, memoryBytes: 8 << 30, gpus: 0), gpuIndices: [], labels: [:],
                                    prices: Prices(), tokenHash: "t", now: h.now, random: &h.random)
        #expect(node.effects.polls == .all)
        #expect(try h.state.submit(makeSpec(), by: "a", now: h.now).effects.polls == .all)
        #expect(h.state.setQuota(Quota(runningTasks: 3), for: "ml", by: "admin", now: h.now).effects.polls == .all)
        #expect(try h.state.setNodeState(node.value.id, to: .cordoned, by: "admin", now: h.now).effects.polls == .all)
        #expect(try h.state.revokeNode(node.value.id, by: "admin", now: h.now, random: &h.random).effects.polls == .all)
        #expect(h.state.addToken(TokenRecord(id: "tok-1", hash: "x", role: .reader, team: "ml", createdAt: h.now, createdBy: "admin")).effects.isEmpty)
    }

    @Test func aReportThatFreesOnlyItsNodeWakesThatPollAndOnlyIfItTookNoLeases() throws {
        var h = Harness()
        let node = h.register("n", cpu: 4000)
        try h.submit(makeSpec(kind: .batch, tasks: 6, cpu: 1000))
        let leased = h.lease(node)
        let first = h.state.report(AttemptReport(attempt: leased[0].id, outcome: .succeeded, exitCode: 0), from: node, now: h.now, random: &h.random)
        #expect(first.effects.polls == .nodes([node]))
        let second = h.state.report([AttemptReport(attempt: leased[1].id, outcome: .succeeded, exitCode: 0)], from: node, maxLeases: 2,
                                    now: h.now, random: &h.random)
        #expect(second.value.results == [.accepted] && second.value.leases.count == 2 && second.effects.polls == .none)
        // A resent report changes nothing and wakes no one.
        let again = h.state.report([AttemptReport(attempt: leased[0].id, outcome: .succeeded, exitCode: 0)], from: node, maxLeases: 0,
                                   now: h.now, random: &h.random)
        #expect(again.value.results == [.notActive] && again.mutations.isEmpty && again.effects.polls == .none)
    }

    @Test func aReportThatRequeuesWakesEveryPoll() throws {
        var h = Harness()
        let node = h.register("n", cpu: 4000)
        try h.submit(makeSpec(retry: RetryPolicy(maxAttempts: 3, backoff: .init(jitter: 0))))
        let attempt = try #require(h.lease(node).first)
        let failed = h.state.report(AttemptReport(attempt: attempt.id, outcome: .failed, exitCode: 1), from: node, now: h.now, random: &h.random)
        #expect(failed.mutations.contains { $0.task?.state == .queued })
        #expect(failed.effects.polls == .all)
    }

    @Test func aReportThatFreesQuotaOfATeamWithQueuedWorkWakesEveryPoll() throws {
        var h = Harness()
        let node = h.register("n", cpu: 8000)
        h.mutations += h.state.setQuota(Quota(runningTasks: 1), for: "ml", by: "admin", now: h.now).mutations
        try h.submit(makeSpec(kind: .batch, tasks: 3, cpu: 1000))
        let attempt = try #require(h.lease(node).first)
        let done = h.state.report([AttemptReport(attempt: attempt.id, outcome: .succeeded, exitCode: 0)], from: node, maxLeases: 1,
                                  now: h.now, random: &h.random)
        #expect(done.effects.polls == .all, "other nodes may now lease the team's queued work")
    }

    @Test func aHandOffWakesTheChosenNodeAndAnEmptyLeaseHasNoEffects() throws {
        var h = Harness(policy: ClusterPolicy(placement: .pack))
        let busy = h.register("busy", cpu: 4000)
        let idle = h.register("idle", cpu: 4000)
        try h.submit(makeSpec(name: "filler", cpu: 2000))
        _ = h.lease(busy)
        #expect(h.state.lease(node: idle, limit: 1, now: h.now).effects.isEmpty, "nothing queued: nothing to do")
        try h.submit(makeSpec(name: "small", cpu: 1000))
        h.state.noteWaiting(busy)
        let leased = h.state.lease(node: idle, limit: 1, now: h.now)
        #expect(leased.value.isEmpty && leased.effects.handoffs == [busy] && leased.effects.polls == .nodes([busy]))
    }

    @Test func cancelWakesTheNodesHoldingTheJobsAttempts() throws {
        var h = Harness()
        let a = h.register("a", cpu: 1000)
        let b = h.register("b", cpu: 1000)
        h.register("c", cpu: 1000)
        let job = try h.submit(makeSpec(kind: .batch, tasks: 4, cpu: 1000))
        let onA = h.lease(a), onB = h.lease(b)
        let cancelled = try h.state.cancel(job, by: "alice", now: h.now)
        #expect(cancelled.effects.cancels == [a: onA.map(\.id), b: onB.map(\.id)])
        #expect(cancelled.effects.polls == .nodes([a, b]))
    }

    @Test func aHeartbeatOrExpiryThatChangedSomethingWakesEveryPoll() throws {
        var h = Harness()
        let node = h.register("n", cpu: 4000)
        try h.submit(makeSpec())
        let attempt = try #require(h.lease(node).first)
        let held = h.state.heartbeat(node: node, attempts: [attempt.id: nil], now: h.now, orphanAfterMilliseconds: 20_000, random: &h.random)
        #expect(held.mutations.isEmpty && held.effects.polls == .none)
        #expect(h.state.expireSilentNodes(now: h.now, ttlMilliseconds: 10_000, random: &h.random).effects.polls == .none)
        h.advance(30_000)
        let orphaned = h.state.heartbeat(node: node, attempts: [:], now: h.now, orphanAfterMilliseconds: 20_000, random: &h.random)
        #expect(!orphaned.mutations.isEmpty && orphaned.effects.polls == .all)
        h.advance(30_000)
        #expect(h.state.expireSilentNodes(now: h.now, ttlMilliseconds: 10_000, random: &h.random).effects.polls == .all)
    }
}
