import DroverAPI
import DroverAgent
import DroverClient
import Foundation
import Synchronization

/// A seeded chaos run on a rig: a mixed workload (batch shards, retried tasks, longer
/// training tasks, a team at its task limit) while faults are injected one after another
/// (agent and coordinator `kill -9`, partitions, packet loss, wall-clock steps, a frozen
/// data disk); then every fault is healed, every acknowledged job is waited for and the
/// history is checked (``HistoryChecker``). The seed fixes which faults and jobs come, in
/// which order and for how long; timing on a loaded machine still varies.
public final class ChaosRun: Sendable {
    public let seed: UInt64
    public let duration: Duration
    public let agents: Int
    /// The disconnect grace (the lease TTL) plus the heartbeat interval, plus sampling slack.
    public let doubleRunLimit: Double
    let ttl = "3s", heartbeat = "300ms"
    /// The team whose running tasks are capped, and its cap.
    let cappedTeam = "capped", cappedLimit = 2
    private let log = Mutex<[String]>([])
    private let state = Mutex(ChaosHistory())
    private let stop = Mutex(false)
    private let started = ContinuousClock.now

    public init(seed: UInt64, duration: Duration, agents: Int = 3) {
        self.seed = seed
        self.duration = duration
        self.agents = agents
        doubleRunLimit = 3 + 0.3 + 1.5
    }

    /// The faults injected and the jobs submitted, one line each with the time since the start.
    public var events: [String] { log.withLock { $0 } }

    private func note(_ line: String) {
        let elapsed = ContinuousClock.now - started
        let text = String(format: "%7.2fs  ", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) + line
        log.withLock { $0.append(text) }
    }

    /// Runs the workload and the faults for `duration`, heals, waits, and returns the history
    /// with the checker's violations (empty when every property held).
    public func run() async throws -> (history: ChaosHistory, violations: [HistoryChecker.Violation], summary: String) {
        let cluster = try await TestCluster.start(agents: agents, cpu: 2, heartbeat: heartbeat, leaseTTL: ttl,
                                                  agentArguments: ["--price-cpu-hour", "3600"],
                                                  coordinatorArguments: ["--cost-interval", "1s"], onRig: true, dataDisk: "256M")
        defer { cluster.stopNow() }
        let marks = cluster.directory + "/marks"
        // Tasks run as uids of their own when the agent is root: every one may leave its mark.
        try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o1777])
        _ = try await cluster.client.setQuota(team: cappedTeam, .object(["running": .number(Double(cappedLimit))]))
        let deadline = ContinuousClock.now + duration
        var random = SplitMix64(seed: seed)
        let workloadSeed = random.next()
        var faultRandom = SplitMix64(seed: random.next())
        note("seed \(seed), \(agents) agents, TTL \(ttl), heartbeat \(heartbeat), for \(duration)")

        var counts: [String: Int] = [:]
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.sample(cluster: cluster, marks: marks) }
            group.addTask {
                var workloadRandom = SplitMix64(seed: workloadSeed)
                while ContinuousClock.now < deadline {
                    await self.submitOne(cluster: cluster, marks: marks, random: &workloadRandom)
                    try await Task.sleep(for: .milliseconds(Int.random(in: 300...1200, using: &workloadRandom)))
                }
            }
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(Int.random(in: 1500...4000, using: &faultRandom)))
                guard ContinuousClock.now < deadline else { break }
                let kind = try await injectOne(cluster: cluster, random: &faultRandom)
                counts[kind, default: 0] += 1
            }
            try await group.next()  // the workload ends at the deadline
            try await healAll(cluster: cluster)
            let acknowledged = state.withLock { $0.acknowledged }
            note("healed; waiting for \(acknowledged.count) acknowledged jobs")
            for id in acknowledged {
                try await cluster.waitUntil("job \(id) terminal", timeout: .seconds(180), every: .milliseconds(200)) {
                    guard let job = try? await cluster.client.jobSummary(id) else { return false }
                    return [.succeeded, .failed, .cancelled].contains(job.state)
                }
            }
            // A last look for processes still alive, then the sampler stops.
            try await Task.sleep(for: .milliseconds(500))
            stop.withLock { $0 = true }
            try await group.waitForAll()
        }
        var history = state.withLock { $0 }
        for id in history.acknowledged { history.finalJobs[id] = try await cluster.client.job(id, events: 0) }
        let violations = HistoryChecker.violations(history, doubleRunLimit: doubleRunLimit)
        let jobs = history.finalJobs.values
        let attempts = jobs.flatMap { $0.attempts ?? [] }
        let outcomes = Dictionary(grouping: attempts, by: \.outcome.rawValue).mapValues(\.count).sorted { $0.key < $1.key }
        let states = Dictionary(grouping: jobs, by: \.state.rawValue).mapValues(\.count).sorted { $0.key < $1.key }
        let summary = """
            chaos seed \(seed): injected \(counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
            checked \(history.acknowledged.count) acknowledged jobs (\(states.map { "\($0.value) \($0.key)" }.joined(separator: ", "))), \
            \(jobs.reduce(0) { $0 + $1.tasks.total }) tasks, \(attempts.count) attempts (\(outcomes.map { "\($0.value) \($0.key)" }.joined(separator: ", "))), \
            \(history.quotaSamples.count) quota samples; longest double run \(String(format: "%.2f", history.longestDoubleRun.values.max() ?? 0)) s \
            (limit \(doubleRunLimit) s); \(violations.count) violations
            """
        return (history, violations, summary)
    }

    // MARK: - Workload

    private func submitOne(cluster: TestCluster, marks: String, random: inout SplitMix64) async {
        // Each task process leaves its pid where the sampler sees it: MARKS/JOB-TASK-ATTEMPT.
        let mark = "echo $$ > \(marks)/$DROVER_JOB_ID-$DROVER_TASK_INDEX-$DROVER_ATTEMPT.tmp && "
            + "mv \(marks)/$DROVER_JOB_ID-$DROVER_TASK_INDEX-$DROVER_ATTEMPT.tmp \(marks)/$DROVER_JOB_ID-$DROVER_TASK_INDEX-$DROVER_ATTEMPT; "
        let kind = Int.random(in: 0..<4, using: &random)
        var spec: [String: JSONValue] = ["team": .string("ml"), "resources": .object(["cpu": .number(1), "memory": .string("16MiB")])]
        switch kind {
        case 0:
            let tasks = Int.random(in: 4...16, using: &random)
            spec["name"] = .string("shards"); spec["kind"] = .string("batch"); spec["tasks"] = .number(Double(tasks))
            spec["command"] = .string(mark + "sleep 0.\(Int.random(in: 1...9, using: &random))")
        case 1:
            spec["name"] = .string("retried"); spec["maxAttempts"] = .number(3)
            spec["command"] = .string(mark + "sleep 0.5; [ \"$DROVER_ATTEMPT\" -gt 1 ] || exit 3")
        case 2:
            spec["name"] = .string("training"); spec["kind"] = .string("training")
            spec["command"] = .string(mark + "sleep \(Int.random(in: 4...12, using: &random))")
        default:
            spec["name"] = .string("capped"); spec["team"] = .string(cappedTeam); spec["kind"] = .string("batch")
            spec["tasks"] = .number(4); spec["command"] = .string(mark + "sleep 1")
        }
        let key = "chaos-\(seed)-\(UInt32.random(in: 0...UInt32.max, using: &random))"
        do {
            let job = try await cluster.client.submit(.object(spec), idempotencyKey: key, attempts: 6, tryTimeout: .seconds(10))
            state.withLock { $0.acknowledged.append(job.id); $0.cpuOfJob[job.id] = 1 }
        } catch {
            note("submit of a \(spec["name"]!) job not acknowledged: \(error)")
        }
    }

    // MARK: - Faults

    /// Injects one fault, waits it out and heals it; returns its kind.
    private func injectOne(cluster: TestCluster, random: inout SplitMix64) async throws -> String {
        let rig = cluster.rig!
        let agent = "agent-\(Int.random(in: 1...agents, using: &random))"
        let hold = Duration.milliseconds(Int.random(in: 500...6000, using: &random))
        switch Int.random(in: 0..<8, using: &random) {
        case 0:
            note("kill -9 \(agent), restarted after \(hold)")
            await cluster.signalAgent(agent, SIGKILL)
            try await Task.sleep(for: hold)
            try cluster.startAgent(name: agent, arguments: ["--cpu", "2", "--memory", "8GiB", "--gpu", "0", "--price-cpu-hour", "3600"])
            return "agent kills"
        case 1:
            let down = Duration.milliseconds(Int.random(in: 0...2000, using: &random))
            note("kill -9 coordinator, restarted after \(down)")
            await cluster.signalCoordinator(SIGKILL)
            try await Task.sleep(for: down)
            let restarting = ContinuousClock.now
            try await cluster.startCoordinator()
            note("coordinator answering again \(ContinuousClock.now - restarting) after its restart began")
            return "coordinator kills"
        case 2:
            note("partition \(agent) for \(hold)")
            try rig.partition(agent)
            try await Task.sleep(for: hold)
            try rig.heal(agent)
            return "partitions"
        case 3:
            note("20% packet loss on \(agent) for \(hold)")
            try rig.loss(agent, percent: 20)
            try await Task.sleep(for: hold)
            try rig.heal(agent)
            return "loss"
        case 4:
            let offset = ["-10", "+10", "-10m", "+10m", "-1d", "+1d"][Int.random(in: 0..<6, using: &random)]
            note("step \(agent)'s wall clock \(offset) for \(hold)")
            try rig.clock(agent, offset: offset)
            try await Task.sleep(for: hold)
            try rig.clock(agent, offset: "0")
            return "agent clock steps"
        case 5:
            let offset = ["-10m", "+10m", "-30s", "+30s"][Int.random(in: 0..<4, using: &random)]
            note("step the coordinator's wall clock \(offset) for \(hold)")
            try rig.clock("coordinator", offset: offset)
            try await Task.sleep(for: hold)
            try rig.clock("coordinator", offset: "0")
            return "coordinator clock steps"
        case 6:
            let frozen = Duration.milliseconds(Int.random(in: 500...5000, using: &random))
            note("freeze the coordinator's data disk for \(frozen)")
            try rig.freeze("coordinator")
            try await Task.sleep(for: frozen)
            try rig.thaw("coordinator")
            return "disk freezes"
        default:
            note("limit \(agent) to 64kbit/s for \(hold)")
            try rig.bandwidth(agent, "64kbit")
            try await Task.sleep(for: hold)
            try rig.heal(agent)
            return "bandwidth limits"
        }
    }

    private func healAll(cluster: TestCluster) async throws {
        let rig = cluster.rig!
        try rig.heal()
        try rig.thaw("coordinator")
        for host in rig.addresses.keys where host != "client" { try rig.clock(host, offset: "0") }
    }

    // MARK: - Sampling

    /// Every 100 ms: which task processes are alive (from their marks), and the capped team's
    /// running tasks as the coordinator counts them (every 500 ms), until `stop`.
    private func sample(cluster: TestCluster, marks: String) async {
        var pids: [String: Int32] = [:]          // JOB-TASK-ATTEMPT → pid, while alive
        var ended = Set<String>()
        var doubleSince: [String: ContinuousClock.Instant] = [:]
        var tick = 0
        while !stop.withLock({ $0 }) {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: marks)) ?? [] where !name.hasSuffix(".tmp") && pids[name] == nil && !ended.contains(name) {
                if let text = try? String(contentsOfFile: marks + "/" + name, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                    pids[name] = pid
                }
            }
            let now = ContinuousClock.now
            var aliveByTask: [String: Int] = [:]
            for (name, pid) in pids {
                if processIsGone(pid) {
                    pids[name] = nil
                    ended.insert(name)
                    continue
                }
                let task = name.split(separator: "-").prefix(2).joined(separator: "/")
                aliveByTask[task, default: 0] += 1
            }
            for (task, alive) in aliveByTask where alive > 1 { doubleSince[task] = doubleSince[task] ?? now }
            for (task, since) in doubleSince where (aliveByTask[task] ?? 0) < 2 {
                let seconds = Self.seconds(now - since)
                state.withLock { $0.longestDoubleRun[task] = max($0.longestDoubleRun[task] ?? 0, seconds) }
                doubleSince[task] = nil
                note(String(format: "task %@ ran twice at once for %.2f s", task, seconds))
            }
            if tick % 5 == 0, let quota = try? await cluster.client.quotas().first(where: { $0.team == cappedTeam }) {
                state.withLock { $0.quotaSamples.append((cappedTeam, quota.inUse.tasks, cappedLimit)) }
            }
            tick += 1
            try? await Task.sleep(for: .milliseconds(100))
        }
        for (task, since) in doubleSince {
            state.withLock { $0.longestDoubleRun[task] = max($0.longestDoubleRun[task] ?? 0, Self.seconds(ContinuousClock.now - since)) }
        }
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}
