import DroverAPI
import DroverCore
import DroverStore
import DroverTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
@testable import DroverCoordinator

/// The coordinator's shell in-process, on a store a test can break and a manual clock:
/// long polls and their wake-ups, node expiry, the duplicate-vs-stale barrier and a failing store.
@Suite struct ClusterShellTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A coordinator built by the composition root, with its journal (and, when asked, its
    /// store recovery) running in the background.
    final class Shell: Sendable {
        let clock = ManualClock()
        let store = ControllableStore()
        let cluster: Cluster
        let services: Task<Void, any Error>

        init(configure: (inout CoordinatorConfiguration) -> Void = { _ in }, withRecovery: Bool = true) async throws {
            var configuration = CoordinatorConfiguration()
            configuration.adminToken = "admin"
            configuration.joinToken = "join"
            configure(&configuration)
            let coordinator = try await buildCoordinator(configuration: configuration, store: store, clock: clock, monotonic: clock.monotonic,
                                                         logger: ClusterShellTests.quiet)
            cluster = coordinator.cluster
            let cluster = coordinator.cluster
            services = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await cluster.journal.run() }
                    if withRecovery { group.addTask { try await StoreRecovery(cluster: cluster, logger: ClusterShellTests.quiet).run() } }
                    try await group.next()
                    group.cancelAll()
                }
            }
        }

        deinit { services.cancel() }

        func registerNode(_ name: String, cpu: Double = 4) async throws -> NodeID {
            let request = RegisterRequest(name: name, cpu: cpu, memory: 8 << 30, gpus: [], labels: [:], prices: PriceRates())
            return try await cluster.register(WireCommands.registration(request), tokenHash: TokenHash.hex("agent-token-\(name)")).id
        }

        func submit(_ name: String, tasks: Int = 1) async throws -> JobRecord {
            let spec = JobSpec(name: name, team: "ml", kind: .batch, taskCount: tasks, command: ["true"],
                               resources: Resources(millicores: 1000, memoryBytes: 1 << 20, gpus: 0))
            return try await cluster.submit(spec, by: "admin")
        }

        func report(_ lease: Lease, from node: NodeID, outcome: AttemptState = .succeeded, exitCode: Int32? = 0) async throws -> ReportResultView {
            let report = AttemptReport(attempt: lease.attempt.id, outcome: outcome, exitCode: exitCode, wallMilliseconds: 5)
            let judgement = try await cluster.report([report], from: node).judgements[0]
            return WireCommands.view(of: judgement, attemptId: lease.attempt.id.description)
        }

        /// Moves the clock in small steps until `condition` holds (each step lets sleepers run).
        func advance(until condition: @Sendable () -> Bool, step: Int64 = 100) async throws {
            for _ in 0..<3_000 {
                if condition() { return }
                clock.advance(milliseconds: step)
                try await Task.sleep(for: .milliseconds(2))
            }
            throw ManualClockError("the condition did not hold after 300 s of manual time")
        }
    }

    // MARK: - Queries

    @Test func jobListsPageThroughTheStoreNewestFirstWithLiveCounts() async throws {
        let shell = try await Shell()
        let node = try await shell.registerNode("a", cpu: 1)
        for name in ["one", "two", "three"] { _ = try await shell.submit(name, tasks: 2) }
        let lease = try #require(try await shell.cluster.poll(node: node, maxLeases: 1, wait: .zero).0.first)
        let first = try await shell.cluster.queries.jobs(team: nil, state: nil, before: nil, limit: 2)
        #expect(first.map(\.name) == ["three", "two"])
        let rest = try await shell.cluster.queries.jobs(team: nil, state: nil, before: JobID(first.last!.id), limit: 2)
        #expect(rest.map(\.name) == ["one"] && rest[0].tasks.running == 1, "counts come from live state")
        #expect(try await shell.cluster.queries.jobs(team: nil, state: .running, before: nil, limit: 10).map(\.name) == ["one"])
        #expect(try await shell.cluster.queries.jobs(team: "web", state: nil, before: nil, limit: 10).isEmpty)
        _ = lease
    }

    @Test func aNodeShowsWhetherItsTasksAreIsolatedAndAnAgentThatDoesNotSayIsNot() async throws {
        let shell = try await Shell()
        for (name, isolation) in [("isolated", TaskIsolation.uid), ("shared", .shared)] {
            let request = RegisterRequest(name: name, cpu: 1, memory: 8 << 30, gpus: [], labels: [:], prices: PriceRates(), taskIsolation: isolation)
            _ = try await shell.cluster.register(WireCommands.registration(request), tokenHash: TokenHash.hex("token-\(name)"))
        }
        _ = try await shell.registerNode("old-agent") // sends no taskIsolation
        #expect(shell.cluster.queries.nodes().map(\.taskIsolation) == [.uid, .shared, .shared])
        // An agent restarted as root re-registers isolated.
        let again = RegisterRequest(name: "old-agent", cpu: 1, memory: 8 << 30, gpus: [], labels: [:], prices: PriceRates(), taskIsolation: .uid)
        _ = try await shell.cluster.register(WireCommands.registration(again), tokenHash: TokenHash.hex("token-again"))
        #expect(shell.cluster.queries.nodes().map(\.taskIsolation) == [.uid, .shared, .uid])
    }

    // MARK: - Long polls

    @Test func aParkedPollIsWokenByASubmissionWithoutTimePassing() async throws {
        let shell = try await Shell()
        let node = try await shell.registerNode("n1")
        // Given a poll parked with no work,
        async let polled = shell.cluster.poll(node: node, maxLeases: 4, wait: .seconds(30))
        await shell.clock.waitForSleepers(1)
        // when a job arrives, then the parked poll answers with its lease at once.
        let job = try await shell.submit("wake")
        let (leases, cancels) = try await polled
        #expect(leases.map(\.attempt.task.job) == [job.id])
        #expect(cancels.isEmpty)
    }

    @Test func aPollWithNothingToDoAnswersEmptyWhenItsWaitIsOverOnTheInjectedClock() async throws {
        let shell = try await Shell()
        let node = try await shell.registerNode("n1")
        async let polled = shell.cluster.poll(node: node, maxLeases: 4, wait: .seconds(30))
        await shell.clock.waitForSleepers(1)
        shell.clock.advance(milliseconds: 30_000)
        let (leases, cancels) = try await polled
        #expect(leases.isEmpty && cancels.isEmpty)
    }

    @Test func cancellingAJobReachesTheParkedPollOfTheNodeRunningIt() async throws {
        let shell = try await Shell()
        let node = try await shell.registerNode("n1", cpu: 1)
        let job = try await shell.submit("long")
        let (leases, _) = try await shell.cluster.poll(node: node, maxLeases: 4, wait: .zero)
        #expect(leases.count == 1)
        async let polled = shell.cluster.poll(node: node, maxLeases: 4, wait: .seconds(30))
        await shell.clock.waitForSleepers(1)
        try await shell.cluster.cancel(job.id, by: "admin")
        let (_, cancels) = try await polled
        #expect(cancels == [leases[0].attempt.id])
    }

    // MARK: - Expiry

    @Test func aSilentNodeIsDownOnlyAfterItsTTLAndItsTaskIsRequeued() async throws {
        let shell = try await Shell { $0.leaseTTL = .seconds(20) }
        let node = try await shell.registerNode("n1")
        let job = try await shell.submit("lost")
        let (leases, _) = try await shell.cluster.poll(node: node, maxLeases: 1, wait: .zero)
        let attempt = try #require(leases.first).attempt.id
        // Given 19 s of silence, the node is still ready;
        shell.clock.advance(milliseconds: 19_000)
        try await shell.cluster.expireSilentNodes()
        #expect(shell.cluster.state.withLock { $0.nodes[node]?.record.state } == .ready)
        // past the TTL it is down, its attempt lost and its task queued again, in memory and in the store.
        shell.clock.advance(milliseconds: 1_001)
        try await shell.cluster.expireSilentNodes()
        #expect(shell.cluster.state.withLock { $0.nodes[node]?.record.state } == .down)
        #expect(try await shell.store.attempt(attempt)?.state == .lost)
        #expect(shell.cluster.state.withLock { $0.jobs[job.id]?.queued } == 1)
    }

    // MARK: - Duplicate or stale

    @Test func aReportRacingTheCommitOfTheSameOutcomeIsADuplicateNotStale() async throws {
        let shell = try await Shell()
        let node = try await shell.registerNode("n1")
        _ = try await shell.submit("race")
        let (leases, _) = try await shell.cluster.poll(node: node, maxLeases: 1, wait: .zero)
        let lease = try #require(leases.first)
        // Given the first report ended the attempt in memory while its commit is held,
        shell.store.closeGate()
        async let first = shell.report(lease, from: node)
        while shell.store.heldWrites == 0 { try await Task.sleep(for: .milliseconds(1)) }
        // when the same report arrives again before that commit,
        async let second = shell.report(lease, from: node)
        // it waits for that commit before it reads the store to judge (without the barrier it
        // would read the attempt as still running, answer stale, and never wait here).
        for _ in 0..<5_000 where shell.cluster.journal.waiterCount < 2 { try await Task.sleep(for: .milliseconds(1)) }
        shell.store.openGate()
        // then the first is accepted and the second is an idempotent duplicate.
        #expect(try await first.status == .accepted)
        let verdict = try await second
        #expect(verdict.status == .duplicate, "\(verdict)")
    }

    @Test func aContradictingReportOfAnEndedAttemptIsStaleAndRecorded() async throws {
        let shell = try await Shell()
        let node = try await shell.registerNode("n1")
        let job = try await shell.submit("stale")
        let (leases, _) = try await shell.cluster.poll(node: node, maxLeases: 1, wait: .zero)
        let lease = try #require(leases.first)
        #expect(try await shell.report(lease, from: node).status == .accepted)
        let verdict = try await shell.report(lease, from: node, outcome: .failed, exitCode: 3)
        #expect(verdict.status == .stale)
        let events = try await shell.store.events(of: job.id, limit: 100).events
        #expect(events.contains { $0.reason == "refused stale report: failed" })
        #expect(try await shell.store.attempt(lease.attempt.id)?.state == .succeeded)
    }

    // MARK: - A failing store

    @Test func aLeaseWhoseCommitWaitsOnTheDiskIsNotLostToHeartbeatsSentMeanwhile() async throws {
        let shell = try await Shell { ($0.leaseTTL, $0.heartbeatInterval) = (.seconds(4), .seconds(1)) }
        let node = try await shell.registerNode("n1")
        _ = try await shell.submit("slow-disk")
        // Given the disk stalls while the lease commits,
        shell.store.closeGate()
        async let polled = shell.cluster.poll(node: node, maxLeases: 1, wait: .zero)
        try await shell.advance(until: { shell.store.heldWrites == 1 })
        let attempt = try #require(shell.cluster.state.withLock { $0.activeAttempts.keys.first })
        // heartbeats sent 8 s into the stall cannot list the lease, and must not lose it;
        // (every 500 ms, so the coordinator itself is seen running: no stall to forgive; a
        // heartbeat that changes nothing writes nothing, so it answers during the disk stall; one
        // that lost the lease would wait on the disk, so a watchdog ends the stall for it to fail)
        let watchdog = Task { try await Task.sleep(for: .seconds(10)); shell.store.openGate() }
        defer { watchdog.cancel() }
        var beat: (unknown: [AttemptID], cancel: [AttemptID]) = ([], [])
        for _ in 0..<16 {
            shell.clock.advance(milliseconds: 500)
            beat = try await shell.cluster.heartbeat(node: node, progress: [:])
        }
        let held = shell.cluster.state.withLock { $0.activeAttempts[attempt] != nil }
        shell.store.openGate()
        let (leases, _) = try await polled
        #expect(held && beat.unknown.isEmpty)
        #expect(leases.map(\.attempt.id) == [attempt])
        // then the agent, holding it, lists it and it runs on.
        _ = try await shell.cluster.heartbeat(node: node, progress: [attempt: nil])
        #expect(try await shell.store.attempt(attempt)?.state == .running)
    }

    @Test func aFailedWriteRefusesChangesUntilTheStoreIsBackAndThenReloadsWithoutTheLostChange() async throws {
        let shell = try await Shell()
        let kept = try await shell.submit("kept")
        // Given the store starts refusing writes,
        shell.store.refuseWrites(true)
        // a submission is answered "unavailable", and so is every change after it, without waiting.
        await #expect(throws: StoreUnavailable.self) { _ = try await shell.submit("refused") }
        #expect(!shell.cluster.health.isAvailable)
        await #expect(throws: StoreUnavailable.self) { _ = try await shell.submit("also refused") }
        await #expect(throws: StoreUnavailable.self) { _ = try await shell.registerNode("n1") }
        // When the store takes writes again, the coordinator reloads from it and takes changes again;
        shell.store.refuseWrites(false)
        try await shell.advance(until: { shell.cluster.health.isAvailable })
        // memory holds what was acknowledged and nothing that was refused.
        let names = shell.cluster.state.withLock { state in state.jobs.values.map(\.record.spec.name).sorted() }
        #expect(names == ["kept"])
        let next = try await shell.submit("after")
        #expect(next.id != kept.id)
        let stored = try await shell.store.load().jobs.map(\.spec.name).sorted()
        #expect(stored == ["after", "kept"])
    }

    @Test func aStoreThatStaysReadableButRefusesWritesKeepsTheCoordinatorRefusing() async throws {
        let shell = try await Shell()
        shell.store.refuseWrites(true)
        await #expect(throws: StoreUnavailable.self) { _ = try await shell.submit("refused") }
        // The recovery reads fine but its probe write fails, so it keeps refusing across retries.
        let refusedBefore = shell.store.refusedWrites
        try await shell.advance(until: { shell.store.refusedWrites >= refusedBefore + 3 })
        #expect(!shell.cluster.health.isAvailable)
        await #expect(throws: StoreUnavailable.self) { _ = try await shell.submit("still refused") }
        shell.store.refuseWrites(false)
        try await shell.advance(until: { shell.cluster.health.isAvailable })
    }

    @Test func anOutageLongerThanTheLimitStopsTheCoordinatorWithAClearError() async throws {
        let shell = try await Shell(configure: { $0.storeOutageLimit = .seconds(2) }, withRecovery: false)
        shell.store.refuseWrites(true)
        await #expect(throws: StoreUnavailable.self) { _ = try await shell.submit("refused") }
        let ended = Atomic<Bool>(false)
        let recovery = Task {
            defer { ended.store(true, ordering: .relaxed) }
            try await StoreRecovery(cluster: shell.cluster, logger: ClusterShellTests.quiet).run()
        }
        try await shell.advance(until: { ended.load(ordering: .relaxed) })
        let error = await #expect(throws: StoreOutageTooLong.self) { try await recovery.value }
        #expect(error?.description.contains("--store-outage-limit") == true)
    }

    @Test func whileTheStoreIsUnavailableTheAPIAnswers503WithRetryAfterAndHealthzStaysUp() async throws {
        let store = ControllableStore()
        let clock = ManualClock()
        var configuration = CoordinatorConfiguration()
        configuration.adminToken = "admin"
        configuration.joinToken = "join"
        let coordinator = try await buildCoordinator(configuration: configuration, store: store, clock: clock, monotonic: clock.monotonic,
                                                     logger: ClusterShellTests.quiet)
        let admin: HTTPFields = [.authorization: "Bearer admin", .contentType: "application/json"]
        let spec = #"{"name": "x", "team": "ml", "kind": "batch", "tasks": 1, "command": ["true"], "resources": {"cpu": 1, "memory": "1MiB"}}"#
        try await coordinator.application.test(.router) { client in
            store.refuseWrites(true)
            try await client.execute(uri: "/v1/jobs", method: .post, headers: admin, body: ByteBuffer(string: spec)) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "1")
                #expect(response.headers[.contentType] == "application/problem+json")
                #expect(String(buffer: response.body).contains("store is unavailable"), "\(String(buffer: response.body))")
            }
            try await client.execute(uri: "/v1/jobs", method: .get, headers: admin) { response in
                #expect(response.status == .serviceUnavailable)
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
            store.refuseWrites(false)
            for _ in 0..<3_000 where !coordinator.cluster.health.isAvailable {
                clock.advance(milliseconds: 100)
                try await Task.sleep(for: .milliseconds(2))
            }
            try await client.execute(uri: "/v1/jobs", method: .get, headers: admin) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "[]", "the refused submission must not appear")
            }
        }
    }

    @Test func aStoreThatCannotBeReadAnswers503NotAnInternalError() async throws {
        let store = ControllableStore()
        var configuration = CoordinatorConfiguration()
        configuration.adminToken = "admin"
        configuration.joinToken = "join"
        let coordinator = try await buildCoordinator(configuration: configuration, store: store, clock: ManualClock(), logger: ClusterShellTests.quiet)
        let admin: HTTPFields = [.authorization: "Bearer admin"]
        try await coordinator.application.test(.router) { client in
            store.refuseReads(true)
            for uri in ["/v1/jobs", "/v1/ledger", "/v1/alerts", "/v1/cost"] {
                try await client.execute(uri: uri, method: .get, headers: admin) { response in
                    #expect(response.status == .serviceUnavailable, "\(uri)")
                    #expect(response.headers[.retryAfter] == "1", "\(uri)")
                    #expect(String(buffer: response.body).contains("a read failed"), "\(uri): \(String(buffer: response.body))")
                }
            }
            store.refuseReads(false)
            try await client.execute(uri: "/v1/jobs", method: .get, headers: admin) { response in
                #expect(response.status == .ok)
            }
        }
    }
}
