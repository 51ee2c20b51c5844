import DroverAPI
import DroverCore
import DroverTesting
import Foundation
import Testing

/// `scripts/chaos`: a seeded chaos run on the rig, when `DROVER_CHAOS_MINUTES` is set.
@Suite(.serialized)
struct ChaosTests {
    static let minutes = ProcessInfo.processInfo.environment["DROVER_CHAOS_MINUTES"].flatMap(Double.init)
    static let seed = ProcessInfo.processInfo.environment["DROVER_CHAOS_SEED"].flatMap { UInt64($0) } ?? 1

    @Test(.enabled(if: minutes != nil && Rig.unavailableReason == nil, "set DROVER_CHAOS_MINUTES (scripts/chaos) on a machine that can run the rig"))
    func chaosKeepsEveryPromise() async throws {
        let run = ChaosRun(seed: Self.seed, duration: .seconds(Self.minutes! * 60))
        let result = try await run.run()
        print(run.events.joined(separator: "\n"))
        print(result.summary)
        #expect(result.violations.isEmpty, "seed \(Self.seed) (rerun: scripts/chaos --seed \(Self.seed)):\n\(result.violations.map(\.description).joined(separator: "\n"))")
    }
}

/// The checker on histories made by hand: each property it checks can fail.
struct HistoryCheckerTests {
    static func attempt(_ task: Int, _ number: Int, _ outcome: AttemptState, cost: Decimal = 0, seconds: Int = 2) -> AttemptView {
        AttemptView(id: "a\(task)-\(number)", task: task, attempt: number, node: "agent-1", outcome: outcome, exitCode: 0, signal: nil,
                    startedAt: WireTime.format(milliseconds: 1_000_000), endedAt: WireTime.format(milliseconds: 1_000_000 + Int64(seconds) * 1000),
                    peakRssBytes: nil, cost: cost, gpus: [], progress: nil, reason: nil)
    }

    static func job(_ id: String, _ state: JobState, _ attempts: [AttemptView]) -> JobView {
        JobView(id: id, name: "j", team: "ml", kind: .batch, state: state, priority: 0,
                tasks: TaskCounts(total: 1, queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0), command: ["true"],
                resources: ResourcesView(cpu: 1, memory: 1 << 24, gpu: 0), submittedAt: WireTime.format(milliseconds: 0), startedAt: nil,
                endedAt: nil, submittedBy: "t", reason: nil, pendingReason: nil, cost: 0, progress: nil, attempts: attempts)
    }

    static func history(_ jobs: [JobView]) -> ChaosHistory {
        var history = ChaosHistory()
        history.acknowledged = jobs.map(\.id)
        for job in jobs { history.finalJobs[job.id] = job }
        return history
    }

    @Test func aCleanHistoryHasNoViolations() {
        let history = Self.history([Self.job("1", .succeeded, [Self.attempt(0, 1, .lost), Self.attempt(0, 2, .succeeded, cost: 2)])])
        #expect(HistoryChecker.violations(history, doubleRunLimit: 5).isEmpty)
    }

    @Test func eachBrokenPropertyIsReported() {
        var history = Self.history([
            Self.job("1", .running, []),
            Self.job("2", .succeeded, [Self.attempt(0, 1, .succeeded), Self.attempt(0, 2, .succeeded)]),
            Self.job("3", .succeeded, [Self.attempt(0, 1, .succeeded, cost: 600, seconds: 4)]),
        ])
        history.acknowledged.append("4")
        history.longestDoubleRun["2/0"] = 9
        history.quotaSamples = [("capped", 3, 2)]
        let found = HistoryChecker.violations(history, doubleRunLimit: 5).map(\.description)
        #expect(found.count == 6, "\(found)")
        #expect(found.contains { $0.contains("job 1") && $0.contains("running") })
        #expect(found.contains { $0.contains("job 4") && $0.contains("does not have it") })
        #expect(found.contains { $0.contains("2 committed successes") })
        #expect(found.contains { $0.contains("cost 600") })
        #expect(found.contains { $0.contains("two nodes at once") })
        #expect(found.contains { $0.contains("over its limit") })
    }
}
