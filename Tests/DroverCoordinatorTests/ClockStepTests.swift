import DroverAPI
import DroverCore
import DroverStore
import DroverTesting
import Logging
import Synchronization
import Testing

@testable import DroverCoordinator

/// A system clock an operator (or NTP) can step.
final class SteppingWall: WallClock {
    private let milliseconds = Mutex<Int64>(1_790_000_000_000)
    func now() -> Timestamp { Timestamp(milliseconds: milliseconds.withLock { $0 }) }
    func step(milliseconds delta: Int64) { milliseconds.withLock { $0 += delta } }
}

/// The coordinator's timestamps move with monotonic time: stepping the system clock declares
/// no node down and meters no time that did not pass.
@Suite struct ClockStepTests {
    @Test func steadyTimestampsIgnoreStepsOfTheSystemClockAndSayHowFarItMoved() {
        let wall = SteppingWall(), monotonic = ManualMonotonicClock()
        let steady = SteadyWallClock(wall: wall, monotonic: monotonic)
        let start = steady.now()
        monotonic.advance(by: .seconds(5))
        wall.step(milliseconds: 5_000)  // both clocks run
        #expect(steady.drift() == 0)
        wall.step(milliseconds: 600_000)
        #expect(steady.now().milliseconds - start.milliseconds == 5_000)
        #expect(steady.drift() == 600_000)
        wall.step(milliseconds: -86_400_000)
        monotonic.advance(by: .milliseconds(250))
        #expect(steady.now().milliseconds - start.milliseconds == 5_250)
    }

    @Test func aTenMinuteStepForwardDeclaresNoHealthyNodeDownAndMetersOnlyTheTimeThatPassed() async throws {
        let wall = SteppingWall(), monotonic = ManualMonotonicClock()
        var configuration = CoordinatorConfiguration()
        (configuration.adminToken, configuration.joinToken, configuration.leaseTTL) = ("admin", "join", .seconds(20))
        let store = InMemoryStore()
        let coordinator = try await buildCoordinator(configuration: configuration, store: store,
                                                     clock: SteadyWallClock(wall: wall, monotonic: monotonic), monotonic: monotonic,
                                                     logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let cluster = coordinator.cluster
        let journal = Task { try await cluster.journal.run() }
        defer { journal.cancel() }

        let request = RegisterRequest(name: "n1", cpu: 4, memory: 8 << 30, gpus: [], labels: [:], prices: PriceRates())
        let node = try await cluster.register(WireCommands.registration(request), tokenHash: TokenHash.hex("agent-n1")).id
        _ = try await cluster.submit(JobSpec(name: "train", team: "ml", kind: .training, taskCount: 1, command: ["true"],
                                             resources: Resources(millicores: 1000, memoryBytes: 1 << 20, gpus: 0)), by: "admin")
        let lease = try #require(try await cluster.poll(node: node, maxLeases: 1, wait: .zero).0.first)

        monotonic.advance(by: .seconds(5))
        _ = try await cluster.heartbeat(node: node, progress: [lease.attempt.id: nil])
        wall.step(milliseconds: 600_000)  // someone sets the date 10 minutes ahead
        try await cluster.expireSilentNodes()
        #expect(cluster.state.withLock { $0.nodes[node]?.record.state } == .ready)
        #expect(cluster.state.withLock { $0.activeAttempts[lease.attempt.id] } != nil, "the attempt still holds its lease")

        monotonic.advance(by: .seconds(7))
        let judgement = try await cluster.report([AttemptReport(attempt: lease.attempt.id, outcome: .succeeded, exitCode: 0)], from: node).judgements
        #expect(judgement == [.accepted])
        let ended = try #require(try await store.attempt(lease.attempt.id))
        #expect(ended.endedAt!.milliseconds - ended.startedAt.milliseconds == 12_000, "12 s of work, not 10 min 12 s")
    }
}
