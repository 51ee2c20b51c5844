import DroverCore
import DroverTesting
import Testing

@Suite struct PlacementTests {
    @Test(arguments: [
        ("zone in (eu, us)", ["zone": "eu"], true), ("zone in (eu,us)", ["zone": "us"], true),
        ("zone in (eu, us)", ["zone": "ap"], false), ("zone in (eu)", [:], false),
        ("zone=eu", ["zone": "eu"], true), ("zone!=eu", ["zone": "eu"], false),
    ])
    func constraintsMatchLabels(text: String, labels: [String: String], expected: Bool) throws {
        let constraint = try #require(Constraint(parsing: text))
        #expect(constraint.matches(labels) == expected)
    }

    @Test func malformedInConstraintsAreRefused() {
        #expect(Constraint(parsing: "zone in ()") == nil)
        #expect(Constraint(parsing: "zone in eu") == nil)
        #expect(Constraint(parsing: "zone in (eu, us)")?.description == "zone in (eu,us)")
    }

    @Test func aDrainDeadlineRequeuesWhatStillRunsWithoutUsingTheFailureBudget() throws {
        // Given a node running two tasks, drained with a one-minute deadline,
        var h = Harness()
        let node = h.register("n", cpu: 4000, memory: 8 << 30)
        let job = try h.submit(makeSpec(kind: .batch, tasks: 2))
        #expect(h.lease(node).count == 2)
        h.mutations += try h.state.setNodeState(node, to: .draining, by: "admin", now: h.now, drainDeadline: h.now.adding(milliseconds: 60_000)).mutations
        #expect(h.lease(node).isEmpty, "a draining node takes no new leases")
        // when one finishes before the deadline and the other does not,
        h.report(h.state.activeAttempts.keys.sorted()[0], .succeeded, exitCode: 0)
        h.advance(30_000)
        #expect(h.state.enforceDrainDeadlines(now: h.now, random: &h.random).mutations.isEmpty)
        h.advance(31_000)
        let mutations = h.state.enforceDrainDeadlines(now: h.now, random: &h.random).mutations
        // then the straggler is preempted and requeued, with its failure budget untouched.
        #expect(mutations.compactMap(\.attempt).map(\.state) == [.preempted])
        #expect(h.state.activeAttempts.isEmpty)
        #expect(h.job(job).queued == 1 && h.job(job).succeeded == 1)
        #expect(h.job(job).tasks.values.allSatisfy { $0.failures == 0 })
    }
}
