import ArgumentParser
import AsyncHTTPClient
import DroverAPI
import DroverClient
import Foundation
import Synchronization

/// Simulated agents for the scheduler benchmark: each registers, then long-polls for leases
/// and reports them succeeded at once, with no processes. Measures leases committed per second
/// and the latency of polls that returned leases. Prints one JSON line.
@main
struct DroverBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "drover-bench", abstract: "Scheduler benchmark with simulated agents.")

    @Option var coordinator: String
    @Option var adminToken: String
    @Option var joinToken: String
    @Option(help: "Simulated agents.") var agents: Int = 100
    @Option(help: "Shards of the job they work through.") var shards: Int = 20_000
    @Option(help: "Most leases per poll.") var leasesPerPoll: Int = 16
    @Flag(help: "Register the agents without prices, so nothing is booked to the cost ledger (to measure what metering costs).")
    var unpriced = false

    func run() async throws {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = agents * 2 + 8
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let admin = DroverClient(baseURL: coordinator, token: adminToken, httpClient: http)
        let joiner = DroverClient(baseURL: coordinator, token: joinToken, httpClient: http)
        var tokens: [String] = []
        for index in 0..<agents {
            let registration = try await joiner.register(RegisterRequest(
                name: "sim-\(index)", cpu: Double(leasesPerPoll), memory: 1 << 40, gpus: [], labels: [:], prices: unpriced ? PriceRates() : PriceRates(cpuHour: Decimal(string: "0.048")!, memoryGiBHour: Decimal(string: "0.006")!)))
            tokens.append(registration.token)
        }
        let job = try await admin.submit(.object([
            "name": .string("sim"), "team": .string("bench"), "kind": .string("batch"), "tasks": .number(Double(shards)),
            "command": .string("true"), "resources": .object(["cpu": .number(1), "memory": .string("1MiB")]), "circuitBreaker": .bool(false),
        ]))
        let tally = Tally()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for token in tokens {
                group.addTask {
                    let agent = DroverClient(baseURL: coordinator, token: token, httpClient: http)
                    while tally.committed.withLock({ $0 }) < shards {
                        let begin = ContinuousClock.now
                        let leases = try await agent.poll(PollRequest(maxLeases: leasesPerPoll, waitMs: 200)).leases
                        guard !leases.isEmpty else { continue }
                        let elapsed = ContinuousClock.now - begin
                        tally.latencies.withLock { $0.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000) }
                        let reports = leases.map {
                            ReportView(attemptId: $0.attemptId, outcome: "succeeded", exitCode: 0, signal: nil, wallMs: 0, peakRssBytes: nil, progress: nil, reason: nil)
                        }
                        _ = try await agent.report(ReportBatch(reports: reports))
                        tally.committed.withLock { $0 += leases.count }
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = Double((ContinuousClock.now - start).components.attoseconds) / 1e18 + Double((ContinuousClock.now - start).components.seconds)
        let final = try await admin.jobSummary(job.id)
        let sorted = tally.latencies.withLock { $0.sorted() }
        func percentile(_ q: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))] }
        let row: [String: Any] = [
            "benchmark": "scheduler", "agents": agents, "shards": shards, "leases_per_poll": leasesPerPoll,
            "leases_per_s": (Double(shards) / seconds * 10).rounded() / 10,
            "poll_p50_ms": (percentile(0.5) * 100).rounded() / 100, "poll_p99_ms": (percentile(0.99) * 100).rounded() / 100,
            "polls_with_leases": sorted.count, "succeeded": final.tasks.succeeded == shards,
        ]
        let data = try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
        try await http.shutdown()
    }
}

/// What the simulated agents measured, shared between them.
final class Tally: Sendable {
    let latencies = Mutex<[Double]>([])
    let committed = Mutex(0)
}
