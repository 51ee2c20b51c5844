import DroverAPI
import DroverClient
import DroverTesting
import Foundation
import Testing

/// Budgets that hold, quota changes that keep what they do not name, and cheapest placement,
/// with a real coordinator and agents.
@Suite(.serialized)
struct BudgetTests {
    /// The job a submission made, or the problem it was refused with.
    static func submit(_ cluster: TestCluster, _ spec: JSONValue) async throws -> Result<JobView, ProblemDetails> {
        do {
            return .success(try await cluster.client.submit(spec))
        } catch DroverClientError.problem(let problem) {
            return .failure(problem)
        }
    }

    /// The problem a refused submission answered, or nil if it was accepted.
    static func refusal(_ cluster: TestCluster, _ spec: JSONValue) async throws -> ProblemDetails? {
        if case .failure(let problem) = try await submit(cluster, spec) { return problem }
        return nil
    }

    static func job(_ name: String, seconds: String?, command: String = "true", tasks: Int = 1) -> JSONValue {
        var fields: [String: JSONValue] = [
            "name": .string(name), "team": .string("ml"), "kind": .string("batch"), "tasks": .number(Double(tasks)), "command": .string(command),
            "resources": .object(["cpu": .number(1), "memory": .string("64MiB")]),
        ]
        if let seconds { fields["expectedDuration"] = .string(seconds) }
        return .object(fields)
    }

    @Test func jobsSubmittedAtOnceAreAdmittedOnlyUpToTheBudget() async throws {
        // Given an agent at 3600 per cpu-hour (one core-second costs 1.00), cordoned so nothing
        // runs yet, and team ml with 10.00 a day,
        let cluster = try await TestCluster.start(agents: 1, cpu: 4, agentArguments: ["--price-cpu-hour", "3600"])
        defer { cluster.stopNow() }
        #expect(try await cluster.drover(["quota", "set", "ml", "--budget", "10/day"]).status == 0)
        let node = try #require(try await cluster.client.nodes().first)
        _ = try await cluster.client.node(node.id, action: "cordon")
        // when 100 jobs estimated at 1.00 each are submitted at once,
        var admitted: [String] = []
        var refusals: [ProblemDetails] = []
        for index in 0..<100 {
            switch try await Self.submit(cluster, Self.job("j\(index)", seconds: "1s")) {
            case .success(let job): admitted.append(job.id)
            case .failure(let problem): refusals.append(problem)
            }
        }
        // then 10 are admitted and 90 refused (402) with the estimate and what is left after reservations;
        #expect(admitted.count == 10)
        #expect(refusals.count == 90 && refusals.allSatisfy { $0.status == 402 })
        let detail = try #require(refusals.first?.detail)
        #expect(detail.contains("estimated cost 1.00 USD") && detail.contains("0.00 USD left until")
                && detail.contains("10.00 reserved by the team's admitted jobs"), "\(detail)")
        let shown = try await cluster.drover(["quota", "show", "ml", "--output", "json"])
        let view = try JSONDecoder().decode(QuotaView.self, from: Data(shown.stdout.utf8))
        #expect(view.budget?.reserved == 10 && view.budget?.available == 0 && view.budget?.spent == 0)
        // a job that gives neither timeout nor expectedDuration is refused, saying how to bound it;
        let unbounded = try #require(try await Self.refusal(cluster, Self.job("unbounded", seconds: nil)))
        #expect(unbounded.status == 402 && unbounded.detail.contains("cannot be bounded") && unbounded.detail.contains("--timeout")
                && unbounded.detail.contains("expectedDuration"), "\(unbounded.detail)")
        // and once the admitted jobs have run, spend stays within the budget and what they did not use is released.
        _ = try await cluster.client.node(node.id, action: "uncordon")
        for id in admitted { #expect(try await cluster.drover(["wait", id]).status == 0) }
        let after = try #require(try await cluster.client.quota(team: "ml").budget)
        #expect(after.spent <= 10 && after.reserved == 0 && after.available == 10 - after.spent, "\(after)")
    }

    @Test func aHardStopStopsTheTeamWithinOneBookingInterval() async throws {
        // Given bookings every 2 s (the reaper ticks every 0.75 s, a quarter of the 3 s TTL), an agent
        // at 36 per cpu-hour (0.01 per core-second) and team ml with 0.10 a day and a hard stop,
        let interval = 2.0
        let cluster = try await TestCluster.start(agents: 1, cpu: 4, agentArguments: ["--price-cpu-hour", "36"],
                                                  coordinatorArguments: ["--cost-interval", "2s"])
        defer { cluster.stopNow() }
        #expect(try await cluster.drover(["quota", "set", "ml", "--budget", "0.10/day", "--budget-hard-stop"]).status == 0)
        // when four one-core tasks that would run 30 s start (0.04 per second together; the
        // hard stop bounds them though they give no duration),
        let job = try await cluster.client.submit(Self.job("long", seconds: nil, command: "exec sleep 30", tasks: 4))
        try await cluster.waitUntil("the budget stops the job", timeout: .seconds(30)) {
            let alerts = try await cluster.client.alerts(team: "ml")
            let view = try await cluster.client.jobSummary(job.id)
            return alerts.contains { $0.level == .exhausted } && view.tasks.running == 0
        }
        // then the team overspends by at most one booking interval of its running rate.
        let spent = try #require(try await cluster.client.cost(by: "team").lines.first { $0.key == "ml" }).total
        let bound = Decimal(string: "0.10")! + Decimal(4 * 0.01 * interval)
        #expect(spent >= Decimal(string: "0.10")! && spent <= bound, "spent \(spent), bound \(bound)")
    }

    @Test func quotaSetChangesOnlyTheFieldsGiven() async throws {
        let cluster = try await TestCluster.start(agents: 0)
        defer { cluster.stopNow() }
        func show() async throws -> QuotaView {
            let run = try await cluster.drover(["quota", "show", "ml", "--output", "json"])
            #expect(run.status == 0, "\(run.stderr)")
            return try JSONDecoder().decode(QuotaView.self, from: Data(run.stdout.utf8))
        }
        // Given team ml with a budget with a hard stop,
        #expect(try await cluster.drover(["quota", "set", "ml", "--budget", "5/day", "--budget-hard-stop"]).status == 0)
        // when its limits are set,
        let set = try await cluster.drover(["quota", "set", "ml", "--cpu", "4", "--memory", "8GiB", "--running", "4"])
        #expect(set.status == 0, "\(set.stderr)")
        // then the budget is still there, as it was;
        var view = try await show()
        #expect(view.limit.cpu == 4 && view.limit.memory == 8 << 30 && view.limit.running == 4)
        #expect(view.budget?.amount == 5 && view.budget?.period == .day && view.budget?.hardStop == true)
        // a budget's own fields change alone too;
        #expect(try await cluster.drover(["quota", "set", "ml", "--budget-soft", "90", "--no-budget-hard-stop"]).status == 0)
        view = try await show()
        #expect(view.budget?.amount == 5 && view.budget?.softPercent == 90 && view.budget?.hardStop == false && view.limit.cpu == 4)
        // --unset clears the fields named, and only those;
        #expect(try await cluster.drover(["quota", "set", "ml", "--unset", "budget,cpu"]).status == 0)
        view = try await show()
        #expect(view.budget == nil && view.limit.cpu == nil && view.limit.memory == 8 << 30 && view.limit.running == 4)
        // an unknown field is refused, naming the ones there are;
        let bogus = try await cluster.drover(["quota", "set", "ml", "--unset", "cpus"])
        #expect(bogus.status != 0 && bogus.stderr.contains("cpu, memory, gpu, running, weight, budget"), "\(bogus.stderr)")
        // and a budget field without a budget says what to give.
        let soft = try await cluster.drover(["quota", "set", "ml", "--budget-soft", "50"])
        #expect(soft.status != 0 && soft.stderr.contains("--budget 500/month"), "\(soft.stderr)")
        // The table shows the team.
        let table = try await cluster.drover(["quota", "show", "ml"])
        #expect(table.status == 0 && table.stdout.contains("ml") && table.stdout.contains("4"), "\(table.stdout)")
        // PUT still replaces the whole quota.
        _ = try await cluster.client.setQuota(team: "ml", .object(["gpu": .number(2)]))
        view = try await show()
        #expect(view.limit.gpu == 2 && view.limit.memory == nil && view.limit.running == nil)
    }

    @Test func cheapestPlacementPicksTheFreeNodeAndTheEstimateBoundsTheCharge() async throws {
        // Given a node at 360 per cpu-hour registered first (pack would pick it on a tie) and a free one,
        let cluster = try TestCluster(coordinatorArguments: ["--placement", "cheapest"])
        defer { cluster.stopNow() }
        try await cluster.startCoordinator()
        try cluster.startAgent(name: "pricey", arguments: ["--cpu", "2", "--memory", "4GiB", "--gpu", "0", "--price-cpu-hour", "360"])
        try await cluster.waitUntil("pricey registered", timeout: .seconds(60)) { (try? await cluster.client.nodes().count) == 1 }
        try cluster.startAgent(name: "free", arguments: ["--cpu", "2", "--memory", "4GiB", "--gpu", "0"])
        try await cluster.waitUntil("both ready", timeout: .seconds(60)) {
            (try? await cluster.client.nodes().filter { $0.state == .ready }.count) == 2
        }
        // both of them waiting for work (their first polls parked),
        try await Task.sleep(for: .milliseconds(500))
        // the estimate of a one-core task expected to take 5 s is at the dearer node's rates (0.50),
        let spec = Self.job("cheap", seconds: "5s", command: "sleep 0.3")
        let estimate = try await cluster.client.estimate(spec)
        #expect(estimate.estimate == Decimal(string: "0.5") && estimate.basis.contains("pricey"), "\(estimate.basis)")
        // when it runs, it runs on the free node,
        let job = try await cluster.client.submit(spec)
        #expect(try await cluster.drover(["wait", job.id]).status == 0)
        let ran = try await cluster.client.job(job.id)
        #expect(ran.attempts?.map(\.node) == ["free"], "\(ran.attempts?.map(\.node) ?? [])")
        // and four at once (the free node holds two) are charged no more than their estimate.
        let batch = Self.job("batch", seconds: "5s", command: "sleep 1", tasks: 4)
        let batchEstimate = try #require(try await cluster.client.estimate(batch).estimate)
        let submitted = try await cluster.client.submit(batch)
        #expect(try await cluster.drover(["wait", submitted.id]).status == 0)
        let charged = try await cluster.client.job(submitted.id)
        #expect(charged.cost <= batchEstimate, "charged \(charged.cost), estimate \(batchEstimate)")
    }
}
