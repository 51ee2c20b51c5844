import DroverAPI
import DroverClient
import DroverTesting
import Foundation
import Testing

/// Metering, the ledger's reports and budgets, with real agents on different rates.
@Suite(.serialized)
struct CostTests {
    /// Cost of `quantity` priced units for `milliseconds` at `rate` per unit-hour, exactly (no rounding).
    static func exact(_ quantity: Decimal, _ rate: Decimal, _ milliseconds: Int64) -> Decimal {
        quantity * rate * Decimal(milliseconds) / 3_600_000
    }

    static func milliseconds(_ text: String?) throws -> Int64 { try #require(text.flatMap(WireTime.parse)) }

    @Test func reportsByTeamJobAndNodeReconcileWithTheAttemptsToTheCent() async throws {
        // Given three agents at different rates (the third priced by the coordinator's rate card
        // through its instance label), and bookings every 300 ms while tasks run,
        let rates = NSTemporaryDirectory() + "drover-rates-\(UUID().uuidString.prefix(8)).yaml"
        try """
            rates:
              - match: instance=big
                cpuHour: 7.2
                memoryGiBHour: 0.72
            """.write(toFile: rates, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: rates) }
        let cluster = try TestCluster(coordinatorArguments: ["--cost-interval", "300ms", "--rates", rates, "--currency", "EUR"])
        defer { cluster.stopNow() }
        try await cluster.startCoordinator()
        try cluster.startAgent(name: "cheap", arguments: ["--cpu", "2", "--memory", "4GiB", "--gpu", "0", "--price-cpu-hour", "0.36",
                                                          "--price-memory-gib-hour", "0.036"])
        try cluster.startAgent(name: "mid", arguments: ["--cpu", "2", "--memory", "4GiB", "--gpu", "0", "--price-cpu-hour", "1.8"])
        try cluster.startAgent(name: "big", arguments: ["--cpu", "2", "--memory", "4GiB", "--gpu", "0", "--label", "instance=big",
                                                        "--price-cpu-hour", "0.01"])
        try await cluster.waitUntil("3 agents registered", timeout: .seconds(20)) { (try? await cluster.client.nodes().count) == 3 }
        let nodes = try await cluster.client.nodes()
        #expect(nodes.first { $0.name == "big" }?.prices?.cpuHour == Decimal(string: "7.2"), "the rate card overrides the agent's own rate")

        // when three teams run jobs, some of whose attempts fail and are retried (wasted spend),
        var jobIDs: [String] = []
        for (team, command, tasks) in [("ml", "sleep 0.$((DROVER_TASK_INDEX % 5 + 3))", 8), ("vision", "sleep 1", 4),
                                       ("nlp", "sleep 0.2; [ $DROVER_ATTEMPT -gt 1 ] || exit 3", 4)] {
            jobIDs.append(try await cluster.client.submit(.object([
                "name": .string("\(team)-job"), "team": .string(team), "kind": .string("batch"), "tasks": .number(Double(tasks)),
                "command": .string(command), "resources": .object(["cpu": .number(0.5), "memory": .string("768MiB")]),
                "maxAttempts": .number(2), "backoff": .object(["initial": .string("10ms")]), "circuitBreaker": .bool(false),
            ])).id)
        }
        for id in jobIDs { #expect(try await cluster.drover(["wait", id]).status == 0) }

        // then every attempt's cost, recomputed here from its start, end, node and resources,
        let pricesByNode = Dictionary(uniqueKeysWithValues: try await cluster.client.nodes().map { ($0.name, $0.prices!) })
        var byTeam: [String: Decimal] = [:], byJob: [String: Decimal] = [:], byNode: [String: Decimal] = [:]
        var wasted: [String: Decimal] = [:]
        var attempts = 0
        for id in jobIDs {
            let job = try await cluster.client.job(id)
            #expect(job.currency == "EUR")
            var jobTotal: Decimal = 0
            for attempt in job.attempts ?? [] {
                let wall = try Self.milliseconds(attempt.endedAt) - Self.milliseconds(attempt.startedAt)
                let rates = try #require(pricesByNode[attempt.node])
                let cost = Self.exact(Decimal(string: "0.5")!, rates.cpuHour, wall) + Self.exact(Decimal(string: "0.75")!, rates.memoryGiBHour, wall)
                // is what the ledger booked for it, to the micro-unit (each resource rounded once),
                #expect(abs(attempt.cost - cost) <= Decimal(string: "0.000001")!, "attempt \(attempt.id): \(attempt.cost) vs \(cost)")
                byTeam[job.team, default: 0] += cost
                byJob[job.id, default: 0] += cost
                byNode[attempt.node, default: 0] += cost
                if attempt.outcome != .succeeded { wasted[job.team, default: 0] += cost }
                jobTotal += attempt.cost
                attempts += 1
            }
            #expect(job.cost == jobTotal)
        }
        #expect(attempts == 20, "16 tasks, 4 of them retried once")
        #expect(wasted["nlp", default: 0] > 0 && wasted["ml", default: 0] == 0)

        // and `drover cost` by team, job and node each match the recomputation to the cent.
        func report(_ by: String) async throws -> CostReportView {
            let run = try await cluster.drover(["cost", "--by", by, "--output", "json"])
            #expect(run.status == 0, "\(run.stderr)")
            return try JSONDecoder().decode(CostReportView.self, from: Data(run.stdout.utf8))
        }
        let tolerance = Decimal(string: "0.000001")! * Decimal(attempts)
        let teams = try await report("team"), jobs = try await report("job"), perNode = try await report("node")
        #expect(teams.currency == "EUR")
        for (key, expected) in byTeam {
            let line = try #require(teams.lines.first { $0.key == key })
            #expect(abs(line.total - expected) <= tolerance && abs(line.total - expected) < Decimal(string: "0.005")!, "team \(key)")
            #expect(abs(line.wasted - wasted[key, default: 0]) <= tolerance, "team \(key) wasted \(line.wasted) vs \(wasted[key, default: 0])")
            #expect(line.running == 0 && line.succeeded + line.wasted == line.total)
        }
        for (key, expected) in byJob {
            let line = try #require(jobs.lines.first { $0.key == key })
            #expect(abs(line.total - expected) <= tolerance, "job \(key)")
        }
        for (name, expected) in byNode {
            let line = try #require(perNode.lines.first { $0.name == name })
            #expect(abs(line.total - expected) <= tolerance, "node \(name)")
        }
        // The three are sums over the same rows: they agree with each other exactly.
        #expect(teams.total.total == jobs.total.total && jobs.total.total == perNode.total.total)
        #expect(teams.total.total > 0 && teams.total.attempts == attempts)
        // CSV carries the exact amounts too, and a day report covers the same rows.
        let csv = try await cluster.drover(["cost", "--by", "team", "--output", "csv"])
        #expect(csv.stdout.hasPrefix("team,succeeded,wasted,running,total,attempts,currency\n"))
        #expect(csv.stdout.contains("\nvision,\(teams.lines.first { $0.key == "vision" }!.succeeded),0,0,"))
        #expect(try await report("day").total.total == teams.total.total)
        // Long attempts were booked in several intervals while they ran.
        let vision = try await cluster.client.job(jobIDs[1])
        let rows = try await cluster.client.ledger(attempt: vision.attempts![0].id)
        #expect(Set(rows.map(\.to)).count >= 2, "a 1 s attempt booked every 300 ms has rows of 2 intervals or more: \(rows.count)")

        // A correction is a new row: the totals drop by exactly the reversed amount, once.
        let row = try #require(rows.first)
        let reverse = try await cluster.drover(["cost", "reverse", row.id, "--reason", "test correction"])
        #expect(reverse.status == 0, "\(reverse.stderr)")
        #expect(try await report("team").total.total == teams.total.total - row.amount)
        #expect(try await cluster.client.ledger(attempt: vision.attempts![0].id).last?.reverses == row.id)
        #expect(try await cluster.drover(["cost", "reverse", row.id, "--reason", "again"]).status != 0, "a row is reversed once")

        // A changed rate card applies on SIGHUP; a broken one leaves the rates in force alone.
        try "rates:\n  - match: instance=big\n    cpuHour: 9.9\n".write(toFile: rates, atomically: true, encoding: .utf8)
        await cluster.signalCoordinator(SIGHUP)
        try await cluster.waitUntil("the new rate applies", timeout: .seconds(10)) {
            try await cluster.client.nodes().first { $0.name == "big" }?.prices?.cpuHour == Decimal(string: "9.9")
        }
        try "rates: [{match: nonsense}]\n".write(toFile: rates, atomically: true, encoding: .utf8)
        await cluster.signalCoordinator(SIGHUP)
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await cluster.client.nodes().first { $0.name == "big" }?.prices?.cpuHour == Decimal(string: "9.9"))
    }

    @Test func aTeamIsStoppedAtItsBudgetWithBoundedOverspend() async throws {
        // Given an agent at 36 per cpu-hour (0.01 per core-second), bookings every 500 ms,
        let interval = 0.5, tick = 0.5 // the reaper runs every min(1 s, TTL / 4, the booking interval)
        let cluster = try await TestCluster.start(agents: 1, cpu: 4, agentArguments: ["--price-cpu-hour", "36"],
                                                  coordinatorArguments: ["--cost-interval", "500ms"])
        defer { cluster.stopNow() }
        // and team ml limited to 0.10 per day with a hard stop,
        let set = try await cluster.drover(["quota", "set", "ml", "--budget", "0.10/day", "--budget-hard-stop"])
        #expect(set.status == 0, "\(set.stderr)")
        #expect(set.stdout.contains("0.00/0.10 USD per day"), "\(set.stdout)")
        let dryRun = try await cluster.drover(["submit", "--dry-run", "--name", "probe", "--team", "ml", "--cpu", "1", "--memory", "64MiB",
                                               "--expected-duration", "5s", "--", "true"])
        #expect(dryRun.status == 0 && dryRun.stdout.contains("Estimate:  0.05 USD"), "\(dryRun.stdout)")
        // when it runs four one-core tasks that would take 30 s (0.04 per second together),
        let job = try await cluster.client.submit(.object([
            "name": .string("long"), "team": .string("ml"), "kind": .string("batch"), "tasks": .number(4),
            "command": .string("echo $$ > \(cluster.directory)/pid-$DROVER_TASK_INDEX; exec sleep 30"),
            "resources": .object(["cpu": .number(1), "memory": .string("64MiB")]),
        ]))
        let start = ContinuousClock.now
        // they are stopped once the budget is spent (about 2.5 s), and requeued rather than failed,
        try await cluster.waitUntil("the budget stops the job", timeout: .seconds(20)) {
            let alerts = try await cluster.client.alerts(team: "ml")
            let view = try await cluster.client.jobSummary(job.id)
            return alerts.contains { $0.level == .exhausted } && view.tasks.running == 0
        }
        #expect(ContinuousClock.now - start < .seconds(15))
        let view = try await cluster.client.job(job.id)
        #expect(view.state == .queued && view.tasks.queued == 4 && view.tasks.failed == 0, "nothing runs: the job is queued")
        #expect(view.pendingReason?.contains("team budget") == true, "\(view.pendingReason ?? "")")
        #expect((view.attempts ?? []).allSatisfy { $0.outcome == .preempted })
        let alerts = try await cluster.client.alerts(team: "ml")
        #expect(alerts.map(\.level) == [.soft, .exhausted])
        // with overspend bounded by one booking interval (plus one reaper tick) of the running attempts,
        let spent = try #require(try await cluster.client.cost(by: "team").lines.first { $0.key == "ml" }).total
        let bound = Decimal(string: "0.10")! + Decimal(4 * 0.01 * (interval + tick + 0.25))
        #expect(spent >= Decimal(string: "0.10")! && spent <= bound, "spent \(spent), bound \(bound)")
        // nothing of the team's runs on the agent any more (the agent killed the processes),
        #expect(try await cluster.client.nodes()[0].runningTasks == 0)
        for shard in 0..<4 {
            let pid = try #require(Int32(try String(contentsOfFile: "\(cluster.directory)/pid-\(shard)", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)))
            try await cluster.waitUntil("the agent killed task \(shard)", timeout: .seconds(10)) { processIsGone(pid) }
        }
        // and a new submission is refused with its estimate and what is left.
        let refused = try await cluster.drover(["submit", "--name", "more", "--team", "ml", "--cpu", "1", "--memory", "64MiB", "--timeout", "1m",
                                                "--", "true"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("exhausted its budget") && refused.stderr.contains("0.60 USD") && refused.stderr.contains("0.00 USD left until"),
                "\(refused.stderr)")
        let quota = try await cluster.client.quotas().first { $0.team == "ml" }
        #expect(quota?.budget?.remaining ?? 1 <= 0)
    }
}
