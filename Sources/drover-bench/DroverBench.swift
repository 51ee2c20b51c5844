import ArgumentParser
import AsyncHTTPClient
import DroverAPI
import DroverClient
import DroverCore
import Foundation
import Synchronization

/// Simulated agents and in-process measurements for `scripts/bench`. Each mode prints one JSON line.
///
/// - `scheduler`: agents register, then long-poll for leases and report them succeeded at once,
///   with no processes: leases committed per second, latency of polls that returned leases.
/// - `lease-latency`: with a huge job queued, agents take one lease per poll, one poll at a time
///   across the cluster: the latency of each lease over HTTP (commit included).
/// - `heartbeats`: agents heartbeat every `--interval` for `--duration`: heartbeat latency.
/// - `core`: no coordinator; `ClusterState.lease` alone, timed in this process, with `--shards`
///   queued over `--jobs` jobs of `--teams` teams on `--agents` nodes: the scheduler's own CPU per lease.
@main
struct DroverBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "drover-bench", abstract: "Scheduler benchmarks with simulated agents.")

    enum Mode: String, ExpressibleByArgument { case scheduler, leaseLatency = "lease-latency", heartbeats, core }

    @Option var mode: Mode = .scheduler
    @Flag(help: "Scheduler mode: report without asking for leases (maxLeases), so every batch takes a report and a poll.")
    var pollOnly = false
    @Option var coordinator: String = ""
    @Option var adminToken: String = ""
    @Option var joinToken: String = ""
    @Option(help: "Jobs the shards are spread over (core mode).") var jobs: Int = 1
    @Option(help: "Teams the jobs belong to (core mode).") var teams: Int = 1
    @Option(help: "Leases to measure (lease-latency and core modes).") var samples: Int = 2_000
    @Option(help: "Seconds between heartbeats (heartbeats mode).") var interval: Double = 5
    @Option(help: "Seconds of heartbeating (heartbeats mode).") var duration: Double = 60
    @Option(help: "Submit no job: one is already queued (lease-latency mode).") var existingJob: String?
    @Option(help: "The coordinator's pid, to read its CPU time and RSS from /proc while measuring (heartbeats mode).")
    var coordinatorPid: Int32?
    @Option(help: "Simulated agents.") var agents: Int = 100
    @Option(help: "Shards of the job they work through.") var shards: Int = 20_000
    @Option(help: "Most leases per poll.") var leasesPerPoll: Int = 16
    @Flag(help: "Register the agents without prices, so nothing is booked to the cost ledger (to measure what metering costs).")
    var unpriced = false

    func run() async throws {
        switch mode {
        case .scheduler: try await scheduler()
        case .leaseLatency: try await leaseLatency()
        case .heartbeats: try await heartbeats()
        case .core: core()
        }
    }

    func scheduler() async throws {
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
                    // Like the real agent: poll when idle; the report of finished leases asks for the
                    // next ones (`maxLeases`), so a busy agent makes one round trip per batch.
                    var leases: [LeaseView] = []
                    var begin = ContinuousClock.now
                    while tally.committed.withLock({ $0 }) < shards {
                        if leases.isEmpty {
                            begin = ContinuousClock.now
                            leases = try await agent.poll(PollRequest(maxLeases: leasesPerPoll, waitMs: 200)).leases
                            guard !leases.isEmpty else { continue }
                        }
                        let elapsed = ContinuousClock.now - begin
                        tally.latencies.withLock { $0.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000) }
                        let reports = leases.map {
                            ReportView(attemptId: $0.attemptId, outcome: .succeeded, exitCode: 0, signal: nil, wallMs: 0, peakRssBytes: nil, progress: nil, reason: nil)
                        }
                        begin = ContinuousClock.now
                        let answer = try await agent.report(ReportBatch(reports: reports, maxLeases: pollOnly ? nil : leasesPerPoll))
                        tally.committed.withLock { $0 += leases.count }
                        leases = answer.leases ?? []
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
            "polls_with_leases": sorted.count, "succeeded": final.tasks.succeeded == shards, "reports_take_leases": !pollOnly,
        ]
        Self.emit(row)
        try await http.shutdown()
    }

    static func emit(_ row: [String: Any]) {
        let data = try! JSONSerialization.data(withJSONObject: row, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func percentiles(_ values: [Double]) -> (p50: Double, p99: Double, max: Double) {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return (0, 0, 0) }
        func at(_ q: Double) -> Double { (sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))] * 1000).rounded() / 1000 }
        return (at(0.5), at(0.99), (sorted.last! * 1000).rounded() / 1000)
    }

    /// User + system CPU seconds of process `pid`, from /proc.
    static func cpuSeconds(_ pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Resident set size of process `pid` in MiB, from /proc.
    static func rssMiB(_ pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Double(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return (kib / 1024 * 10).rounded() / 10
    }

    /// Registers `count` simulated agents, `concurrency` at a time; returns their tokens.
    func registerAgents(_ count: Int, http: HTTPClient, concurrency: Int = 32) async throws -> [String] {
        let joiner = DroverClient(baseURL: coordinator, token: joinToken, httpClient: http)
        var tokens: [String] = []
        var next = 0
        while next < count {
            let batch = next..<min(count, next + concurrency)
            tokens += try await withThrowingTaskGroup(of: String.self) { group in
                for index in batch {
                    group.addTask {
                        try await joiner.register(RegisterRequest(name: "sim-\(index)", cpu: 64, memory: 256 << 30, gpus: [], labels: [:],
                                                                  prices: PriceRates(cpuHour: Decimal(string: "0.048")!))).token
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            next = batch.upperBound
        }
        return tokens
    }

    /// One lease per poll, one poll at a time, round-robin over the agents, each lease reported
    /// at once (not timed): the HTTP latency of handing out one lease with `shards` queued.
    func leaseLatency() async throws {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 16
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let tokens = try await registerAgents(agents, http: http)
        let admin = DroverClient(baseURL: coordinator, token: adminToken, httpClient: http)
        if existingJob == nil {
            _ = try await admin.submit(.object([
                "name": .string("queued"), "team": .string("bench"), "kind": .string("batch"), "tasks": .number(Double(shards)),
                "command": .string("true"), "resources": .object(["cpu": .number(1), "memory": .string("1MiB")]), "circuitBreaker": .bool(false),
            ]))
        }
        var latencies: [Double] = []
        for sample in 0..<samples {
            let agent = DroverClient(baseURL: coordinator, token: tokens[sample % tokens.count], httpClient: http)
            let begin = ContinuousClock.now
            let leases = try await agent.poll(PollRequest(maxLeases: 1, waitMs: 0)).leases
            latencies.append(Self.milliseconds(ContinuousClock.now - begin))
            _ = try await agent.report(ReportBatch(reports: leases.map {
                ReportView(attemptId: $0.attemptId, outcome: .succeeded, exitCode: 0, signal: nil, wallMs: 0, peakRssBytes: nil, progress: nil, reason: nil)
            }))
        }
        let (p50, p99, worst) = Self.percentiles(latencies)
        Self.emit(["benchmark": "lease-latency", "agents": agents, "queued_shards": shards, "samples": samples,
                   "lease_p50_ms": p50, "lease_p99_ms": p99, "lease_max_ms": worst])
        try await http.shutdown()
    }

    /// `agents` agents heartbeat every `interval` s (spread evenly) for `duration` s.
    func heartbeats() async throws {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 256
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let tokens = try await registerAgents(agents, http: http)
        let tally = Tally()
        let count = tokens.count
        let cpuBefore = coordinatorPid.flatMap(Self.cpuSeconds)
        let start = ContinuousClock.now
        let end = start + .milliseconds(Int64(duration * 1000))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, token) in tokens.enumerated() {
                group.addTask {
                    let agent = DroverClient(baseURL: coordinator, token: token, httpClient: http)
                    var due = start + .milliseconds(Int64(interval * 1000 * Double(index) / Double(count)))
                    while due < end {
                        try await Task.sleep(until: due)
                        let begin = ContinuousClock.now
                        do {
                            _ = try await agent.heartbeat(HeartbeatRequest(attempts: []))
                            tally.latencies.withLock { $0.append(Self.milliseconds(ContinuousClock.now - begin)) }
                        } catch {
                            tally.failures.withLock { $0 += 1 }
                        }
                        due = due + .milliseconds(Int64(interval * 1000))
                    }
                }
            }
            try await group.waitForAll()
        }
        let wall = Self.milliseconds(ContinuousClock.now - start) / 1000
        let values = tally.latencies.withLock { $0 }
        let (p50, p99, worst) = Self.percentiles(values)
        var row: [String: Any] = ["benchmark": "heartbeats", "agents": agents, "interval_s": interval, "duration_s": duration, "heartbeats": values.count,
                                  "failed": tally.failures.withLock { $0 }, "heartbeat_p50_ms": p50, "heartbeat_p99_ms": p99, "heartbeat_max_ms": worst]
        if let pid = coordinatorPid, let before = cpuBefore, let after = Self.cpuSeconds(pid) {
            row["coordinator_cpu_percent_of_one_core"] = ((after - before) / wall * 1000).rounded() / 10
            row["coordinator_rss_mib"] = Self.rssMiB(pid) ?? 0
        }
        Self.emit(row)
        try await http.shutdown()
    }

    /// The scheduler alone: `ClusterState.lease` timed in this process (its own CPU, no HTTP, no store).
    func core() {
        var state = ClusterState()
        var random = SystemRandomNumberGenerator()
        let now = Timestamp(milliseconds: 1_790_000_000_000)
        var nodes: [NodeID] = []
        for index in 0..<agents {
            let node = state.register(name: "n\(index)", capacity: Resources(millicores: 64_000, memoryBytes: 256 << 30, gpus: 0), gpuIndices: [],
                                           labels: ["zone": ["a", "b", "c"][index % 3]], prices: Prices(cpuHourMicros: 48_000),
                                           tokenHash: "h\(index)", now: now, random: &random).value
            nodes.append(node.id)
        }
        let perJob = shards / max(1, jobs)
        let submitStart = ContinuousClock.now
        for index in 0..<max(1, jobs) {
            let spec = JobSpec(name: "j\(index)", team: "team-\(index % max(1, teams))", kind: .batch, taskCount: max(1, perJob), command: ["true"],
                               resources: Resources(millicores: 1000, memoryBytes: 1 << 20, gpus: 0), priority: index % 3)
            _ = try! state.submit(spec, by: "bench", now: now)
        }
        let submitMs = Self.milliseconds(ContinuousClock.now - submitStart)
        var latencies: [Double] = []
        latencies.reserveCapacity(samples)
        var leased: [AttemptID] = []
        for sample in 0..<samples {
            let node = nodes[sample % nodes.count]
            let begin = ContinuousClock.now
            let leases = state.lease(node: node, limit: 1, now: now).value
            latencies.append(Self.milliseconds(ContinuousClock.now - begin) * 1000) // µs
            leased += leases.map(\.attempt.id)
            if leased.count >= nodes.count * 32 { // keep the nodes from filling up: end half of what runs
                for id in leased.prefix(leased.count / 2) {
                    let node = state.activeAttempts[id]!.node
                    _ = state.report(AttemptReport(attempt: id, outcome: .succeeded, exitCode: 0), from: node, now: now, random: &random)
                }
                leased.removeFirst(leased.count / 2)
            }
        }
        let (p50, p99, worst) = Self.percentiles(latencies)
        Self.emit(["benchmark": "core-lease", "nodes": agents, "queued_shards": shards, "jobs": max(1, jobs), "teams": max(1, teams),
                   "samples": samples, "submit_ms": (submitMs * 1000).rounded() / 1000,
                   "lease_p50_us": p50, "lease_p99_us": p99, "lease_max_us": worst,
                   "lease_mean_us": ((latencies.reduce(0, +) / Double(max(1, latencies.count))) * 1000).rounded() / 1000])
    }
}

/// What the simulated agents measured, shared between them.
final class Tally: Sendable {
    let latencies = Mutex<[Double]>([])
    let committed = Mutex(0)
    let failures = Mutex(0)
}
