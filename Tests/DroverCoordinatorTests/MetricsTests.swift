import DroverAPI
import DroverCore
import DroverTesting
import Foundation
import Testing
@testable import DroverCoordinator

/// The pure parts of `/metrics`: gauges from live state, facts from transitions, names.
@Suite struct MetricsSnapshotTests {
    let now = Timestamp(milliseconds: 1_790_000_000_000)

    func spec(_ name: String, team: String, tasks: Int = 2, cpu: Int64 = 1000, constraints: [Constraint] = []) -> JobSpec {
        JobSpec(name: name, team: team, kind: .batch, taskCount: tasks, command: ["true"],
                resources: Resources(millicores: cpu, memoryBytes: 1 << 20, gpus: 0), constraints: constraints)
    }

    @Test func queuedTasksAreCountedByTeamAndTheReasonTheyWait() throws {
        // Given one 2-core node, a team capped at one task, a team out of budget, a job whose
        // constraints match no node, and a job that needs the whole node,
        var state = ClusterState()
        var random = SplitMix64(seed: 1)
        // (a job no registered node could take is refused at submit: this one came before the node)
        _ = try state.submit(spec("elsewhere", team: "ml", constraints: [Constraint(key: "zone", op: .equal, value: "us")]), by: "a", now: now)
        let node = state.register(name: "n1", capacity: Resources(millicores: 2000, memoryBytes: 1 << 30, gpus: 0), gpuIndices: [],
                                  labels: ["zone": "eu"], prices: Prices(cpuHourMicros: 3_600_000), tokenHash: "h", now: now, random: &random).value
        _ = state.setQuota(Quota(runningTasks: 1), for: "capped", by: "admin", now: now)
        _ = try state.submit(spec("capped", team: "capped", tasks: 3), by: "a", now: now)
        _ = try state.submit(spec("broke", team: "broke"), by: "a", now: now)
        _ = state.setQuota(Quota(budget: Budget(amountMicros: 0, period: .month)), for: "broke", by: "admin", now: now)
        _ = try state.submit(spec("wide", team: "ml", tasks: 1, cpu: 2000), by: "a", now: now)
        // when the node leases what it can (one task of `capped`, which the quota then holds back),
        let leased = state.lease(node: node.id, limit: 10, now: now).value
        #expect(leased.count == 1)
        let snapshot = MetricsSnapshot(state: state, storeAvailable: true, now: now)
        // then each team's queued tasks are under the reason they wait for, and every reason is a series.
        let pending = snapshot[.pendingTasks]
        #expect(pending[["capped", "quota"]] == 2)
        #expect(pending[["broke", "budget"]] == 2)
        #expect(pending[["ml", "constraints"]] == 2)
        #expect(pending[["ml", "capacity"]] == 1)
        #expect(pending[["ml", "gang"]] == 0 && pending[["ml", "dependency"]] == 0)
        #expect(pending.count == 3 * PendingCause.allCases.count)
        // Jobs and tasks by team and state, as the jobs' counts say.
        #expect(snapshot[.jobs][["capped", "running"]] == 1 && snapshot[.jobs][["ml", "queued"]] == 2)
        #expect(snapshot[.tasks][["capped", "running"]] == 1 && snapshot[.tasks][["capped", "queued"]] == 2)
        // Quotas: the limit set, what the team holds, its share of the node, its budget.
        #expect(snapshot[.quotaLimit][["capped", "tasks"]] == 1 && snapshot[.quotaLimit][["capped", "cpu"]] == nil)
        #expect(snapshot[.quotaUsage][["capped", "cpu"]] == 1 && snapshot[.quotaUsage][["capped", "tasks"]] == 1)
        #expect(snapshot[.teamDominantShare][["capped"]] == 0.5 && snapshot[.teamDominantShare][["ml"]] == 0)
        #expect(snapshot[.budgetLimit][["broke"]] == 0 && snapshot[.budgetSpend][["broke"]] == 0 && snapshot[.budgetLimit][["ml"]] == nil)
        // Nodes: every state is a series; capacity and what is allocated on them.
        #expect(snapshot[.nodes] == [["ready"]: 1, ["cordoned"]: 0, ["draining"]: 0, ["down"]: 0])
        #expect(snapshot[.nodeCapacity][["cpu"]] == 2 && snapshot[.nodeAllocated][["cpu"]] == 1)
        #expect(snapshot[.storeAvailable] == [[]: 1])
    }

    @Test func aRetryWaitingOutItsBackoffSaysBackoffAndNoReadyNodeSaysCapacity() throws {
        var state = ClusterState()
        var random = SplitMix64(seed: 1)
        // Given no node at all, a queued job waits for capacity;
        var job = spec("retried", team: "ml", tasks: 1)
        job.retry = RetryPolicy(maxAttempts: 3, backoff: .init(initialMilliseconds: 60_000, multiplier: 1, maxMilliseconds: 60_000, jitter: 0))
        let record = try state.submit(job, by: "a", now: now).value
        #expect(MetricsSnapshot(state: state, storeAvailable: false, now: now)[.pendingTasks][["ml", "capacity"]] == 1)
        // once its one task failed and waits a minute to retry, it waits for its backoff.
        let node = state.register(name: "n1", capacity: Resources(millicores: 2000, memoryBytes: 1 << 30, gpus: 0), gpuIndices: [],
                                  labels: [:], prices: Prices(), tokenHash: "h", now: now, random: &random).value
        let lease = try #require(state.lease(node: node.id, limit: 1, now: now).value.first)
        _ = state.report(AttemptReport(attempt: lease.attempt.id, outcome: .failed, exitCode: 1), from: node.id, now: now, random: &random)
        #expect(state.jobs[record.id]?.queued == 1)
        let snapshot = MetricsSnapshot(state: state, storeAvailable: false, now: now)
        #expect(snapshot[.pendingTasks][["ml", "backoff"]] == 1, "\(snapshot[.pendingTasks])")
        #expect(snapshot[.storeAvailable] == [[]: 0])
    }
}

@Suite struct MetricFactsTests {
    let now = Timestamp(milliseconds: 1_790_000_000_000)

    @Test func aLeaseAReportAndABookingAreCountedFromTheirMutations() throws {
        var state = ClusterState()
        var random = SplitMix64(seed: 1)
        let node = state.register(name: "n1", capacity: Resources(millicores: 4000, memoryBytes: 1 << 30, gpus: 0), gpuIndices: [],
                                  labels: [:], prices: Prices(cpuHourMicros: 3_600_000), tokenHash: "h", now: now, random: &random).value
        let spec = JobSpec(name: "j", team: "ml", kind: .batch, taskCount: 2, command: ["true"],
                           resources: Resources(millicores: 1000, memoryBytes: 1 << 20, gpus: 0))
        let submitted = try state.submit(spec, by: "a", now: now)
        #expect(MetricFacts(submitted.mutations, in: state).isEmpty, "a submission ends, leases and books nothing")
        // Given a job submitted 1.5 s before its two tasks are leased,
        let later = now.adding(milliseconds: 1500)
        let leases = state.lease(node: node.id, limit: 2, now: later)
        let leased = MetricFacts(leases.mutations, in: state)
        // the lease counts two leased tasks and one admission, 1.5 s after submission;
        #expect(leased.leased == ["ml", "ml"])
        #expect(leased.admitted == [.init(team: "ml", waitMilliseconds: 1500)])
        #expect(leased.ended.isEmpty && leased.booked.isEmpty)
        // a report that ends one after an hour counts its outcome and the cost it books.
        let end = later.adding(milliseconds: 3_600_000)
        let report = state.report(AttemptReport(attempt: leases.value[0].attempt.id, outcome: .failed, exitCode: 2), from: node.id, now: end, random: &random)
        let reported = MetricFacts(report.mutations, in: state)
        #expect(reported.ended == [.init(team: "ml", outcome: .failed)])
        #expect(reported.booked == [.init(team: "ml", micros: 3_600_000)], "one core for an hour at 3.6 per core-hour")
        #expect(reported.leased.isEmpty && reported.admitted.isEmpty)
    }
}

@Suite struct CoordinatorMetricsTests {
    @Test func aSeriesGoneFromLiveStateLeavesThePageAndWebhookResultsStartAtZero() throws {
        let metrics = CoordinatorMetrics()
        var state = ClusterState()
        let now = Timestamp(milliseconds: 1_790_000_000_000)
        let job = try state.submit(JobSpec(name: "j", team: "ml", command: ["true"]), by: "a", now: now).value
        let first = String(decoding: metrics.render(MetricsSnapshot(state: state, storeAvailable: true, now: now)), as: UTF8.self)
        #expect(first.contains(#"drover_jobs{team="ml",state="queued"} 1.0"#), "\(first)")
        #expect(first.contains(#"drover_webhook_deliveries_total{result="timed_out"} 0"#))
        #expect(first.contains("# TYPE drover_lease_round_trip_seconds histogram"))
        // When the job is cancelled, its queued series is gone, not left at its last value.
        _ = try state.cancel(job.id, by: "a", now: now)
        metrics.webhookDelivered(result: .delivered)
        let second = String(decoding: metrics.render(MetricsSnapshot(state: state, storeAvailable: true, now: now)), as: UTF8.self)
        #expect(!second.contains(#"state="queued"} 1"#), "\(second)")
        #expect(second.contains(#"drover_jobs{team="ml",state="cancelled"} 1.0"#))
        #expect(second.contains(#"drover_webhook_deliveries_total{result="delivered"} 1"#))
    }

    @Test func hummingbirdsHTTPMetricsGetDroversNamesAndLabels() {
        let (name, labels) = HTTPMetricNames.rename("hb.requests", [("http.route", "/v1/jobs/:id"), ("http.request.method", "GET"),
                                                                    ("http.response.status_code", "200")])
        #expect(name == "drover_http_requests_total")
        #expect(labels.map(\.0) == ["route", "method", "status"] && labels.map(\.1) == ["/v1/jobs/:id", "GET", "200"])
        #expect(HTTPMetricNames.rename("http.server.request.duration", []).0 == "drover_http_request_duration_seconds")
        #expect(HTTPMetricNames.rename("something.else", []).0 == "something.else")
    }

    @Test func theMetricsListenerTakesHostAndPortAndNotTheAPIsOwn() throws {
        let configuration = try CoordinatorConfiguration.resolve(flags: ["metrics-listen": "[::1]:9464"], environment: [:])
        #expect(configuration.metricsListen == ListenAddress(host: "::1", port: 9464))
        #expect(throws: ConfigurationError.self) { try CoordinatorConfiguration.resolve(flags: ["metrics-listen": "9464"], environment: [:]) }
        let clash = #expect(throws: ConfigurationError.self) {
            try CoordinatorConfiguration.resolve(flags: ["metrics-listen": "127.0.0.1:7070"], environment: [:])
        }
        #expect(clash?.description.contains("must differ from listen") == true, "\(String(describing: clash))")
    }

    @Test func theReadmeListsEveryMetricFamily() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let names = MetricFamily.allCases.map(\.rawValue) + HTTPMetricNames.names.values
        for name in names { #expect(readme.contains("`\(name)`"), "README.md's Monitoring table lacks \(name)") }
    }

    @Test func readinessNamesTheOutage() {
        #expect(Readiness(storeAvailable: true, outage: nil).refusal == nil)
        let refusal = Readiness(storeAvailable: false, outage: "database is locked").refusal
        #expect(refusal?.hasPrefix("not ready: the store refused a write (database is locked)") == true, "\(refusal ?? "")")
    }
}
