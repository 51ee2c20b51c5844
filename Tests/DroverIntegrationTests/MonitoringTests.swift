import AsyncHTTPClient
import DroverAPI
import DroverClient
import DroverTesting
import Foundation
import NIOCore
import Testing

/// `/metrics`, `/healthz`, `/readyz`, `/version` and `drover --version` of a real coordinator,
/// and the Prometheus files of `cluster/prometheus`. The page is parsed by a real Prometheus
/// parser (python's `prometheus_client`, which scripts/setup installs into
/// .build/venv-prometheus) and its values are checked against what the API reports.
@Suite(.serialized) struct MonitoringTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The python that has `prometheus_client`: scripts/setup's venv, else the system's.
    static let python: String? = {
        for candidate in [root + "/.build/venv-prometheus/bin/python3", "/usr/bin/python3"] where FileManager.default.isExecutableFile(atPath: candidate) {
            if (try? run(candidate, ["-c", "import prometheus_client"]))?.status == 0 { return candidate }
        }
        return nil
    }()

    static let promtool: String? = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: python != nil, "needs python3 with prometheus_client: run scripts/setup (it installs it into .build/venv-prometheus)"))
    func thePageParsesAndMatchesWhatTheAPIReportsAfterAKnownWorkload() async throws {
        // Given a coordinator with an open metrics listener, one priced agent, and a team with a quota and a budget
        // (so its jobs give a timeout: a budget admits only jobs whose cost is bounded),
        let cluster = try await TestCluster.start(agents: 1, agentArguments: ["--price-cpu-hour", "36"],
                                                  coordinatorArguments: ["--metrics-listen", "127.0.0.1:0", "--cost-interval", "500ms"])
        defer { cluster.stopNow() }
        _ = try await cluster.client.setQuota(team: "ml", .object(["cpu": .number(2), "budget": .string("1000/month")]))
        // when three jobs succeed and one fails,
        var ids: [String] = []
        for index in 0..<3 {
            ids.append(try await cluster.client.submit(.object(["name": .string("ok-\(index)"), "team": .string("ml"), "command": .string("sleep 0.2"),
                                                                "timeout": .string("1m")])).id)
        }
        ids.append(try await cluster.client.submit(.object([
            "name": .string("fails"), "team": .string("ml"), "command": .string("exit 3"), "maxAttempts": .number(1), "timeout": .string("1m"),
        ])).id)
        for id in ids { _ = try await cluster.drover(["wait", id]) }
        // (every ended attempt's cost is booked once the report is in: wait until the jobs' costs are final)
        let jobs = try await cluster.client.jobs()
        #expect(jobs.map(\.state).sorted { $0.rawValue < $1.rawValue } == [.failed, .succeeded, .succeeded, .succeeded], "\(cluster.diagnostics())")
        // the open listener serves the page without a token, and so does the API with the admin token;
        let open = try await Self.get(try Self.metricsURL(of: cluster), token: nil)
        #expect(open.status == 200)
        let page = try await Self.get(cluster.url + "/metrics", token: cluster.adminToken)
        #expect(page.status == 200 && page.contentType?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(try await Self.get(cluster.url + "/metrics", token: nil).status == 401)
        // a real Prometheus parser reads it,
        let samples = try Self.parse(page.body)
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            samples.first { $0.name == name && $0.labels == labels }?.value
        }
        // and its values are what the API reports: jobs and tasks by state,
        for state in ["succeeded", "failed"] {
            let expected = Double(jobs.filter { $0.state.rawValue == state }.count)
            #expect(value("drover_jobs", ["team": "ml", "state": state]) == expected, "\(state)")
            #expect(value("drover_tasks", ["team": "ml", "state": state]) == expected)
        }
        // attempts by outcome, leases and admissions (one per job, each with its first lease),
        #expect(value("drover_attempts_total", ["team": "ml", "outcome": "succeeded"]) == 3)
        #expect(value("drover_attempts_total", ["team": "ml", "outcome": "failed"]) == 1)
        #expect(value("drover_leases_total", ["team": "ml"]) == 4)
        #expect(value("drover_admission_wait_seconds_count", ["team": "ml"]) == 4)
        #expect(value("drover_pending_tasks", ["team": "ml", "reason": "capacity"]) == 0)
        // nodes and their capacity,
        let nodes = try await cluster.client.nodes()
        #expect(value("drover_nodes", ["state": "ready"]) == Double(nodes.filter { $0.state == .ready }.count))
        #expect(value("drover_node_capacity", ["resource": "cpu"]) == nodes.map(\.capacity.cpu).reduce(0, +))
        #expect(value("drover_node_allocated", ["resource": "cpu"]) == 0)
        // the team's quota, budget and cost booked (the sum of its jobs' costs),
        let quota = try #require(try await cluster.client.quotas().first { $0.team == "ml" })
        #expect(value("drover_quota_limit", ["team": "ml", "resource": "cpu"]) == quota.limit.cpu)
        #expect(value("drover_quota_usage", ["team": "ml", "resource": "tasks"]) == Double(quota.inUse.tasks))
        let budget = try #require(quota.budget)
        #expect(value("drover_budget_limit", ["team": "ml"]) == NSDecimalNumber(decimal: budget.amount).doubleValue)
        let spent = NSDecimalNumber(decimal: budget.spent).doubleValue
        #expect(spent > 0, "the agent is priced: the jobs cost something")
        #expect(abs((value("drover_budget_spend", ["team": "ml"]) ?? -1) - spent) < 1e-6)
        let jobCosts = jobs.map { NSDecimalNumber(decimal: $0.cost).doubleValue }.reduce(0, +)
        #expect(abs((value("drover_cost_booked_total", ["team": "ml"]) ?? -1) - jobCosts) < 1e-6, "\(jobCosts)")
        // the store's group commits, HTTP requests by route (Hummingbird's middleware), webhook results at 0.
        #expect((value("drover_store_commit_duration_seconds_count") ?? 0) > 0)
        #expect((value("drover_store_commit_mutations_count") ?? 0) > 0)
        #expect(value("drover_store_available") == 1)
        #expect(samples.contains { $0.name == "drover_http_requests_total" && $0.labels["route"] == "/v1/agents/poll" })
        #expect(value("drover_webhook_deliveries_total", ["result": "delivered"]) == 0)
        // Every metric the alert rules use is on the page (a renamed family would leave an alert that never fires).
        let rules = try String(contentsOfFile: Self.root + "/cluster/prometheus/alerts.yml", encoding: .utf8)
        let used = Set(rules.matches(of: /drover_[a-z_]+/).map { String($0.output) })
        #expect(used.count >= 6 && used.isSubset(of: Set(samples.map(\.name))), "\(used.subtracting(samples.map(\.name)))")
        // No series names a job, attempt or node.
        #expect(samples.allSatisfy { Set($0.labels.keys).isSubset(of: ["team", "state", "outcome", "resource", "reason", "result", "le",
                                                                          "route", "method", "status"]) })
    }

    @Test func healthReadinessAndVersionNeedNoTokenAndReadyzIs503WhileTheStoreRefusesWrites() async throws {
        let cluster = try await TestCluster.start(agents: 0)
        defer { cluster.stopNow() }
        #expect(try await Self.get(cluster.url + "/healthz", token: nil).status == 200)
        #expect(try await Self.get(cluster.url + "/readyz", token: nil).status == 200)
        let version = try await Self.get(cluster.url + "/version", token: nil)
        #expect(try JSONDecoder().decode(VersionView.self, from: Data(version.body.utf8)) == VersionView(version: DroverVersion.release, apiVersion: "v1"))
        let cli = try await cluster.drover(["--version"])
        #expect(cli.status == 0 && cli.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == DroverVersion.release, "\(cli.stdout)")
        // Given another process holds the database's write lock past the busy timeout, a change fails,
        let lock = try SQLiteWriteLock(database: cluster.dataDirectory + "/drover.sqlite")
        defer { lock.release() }
        let refused = await #expect(throws: DroverClientError.self) {
            _ = try await cluster.client.submit(.object(["name": .string("refused"), "team": .string("ml"), "command": .string("true")]))
        }
        #expect(refused?.status == 503)
        // and /readyz says 503 with a problem naming the store, while /healthz stays 200;
        let notReady = try await Self.get(cluster.url + "/readyz", token: nil)
        #expect(notReady.status == 503 && notReady.contentType == "application/problem+json")
        #expect(notReady.body.contains("not ready: the store refused a write"), "\(notReady.body)")
        #expect(try await Self.get(cluster.url + "/healthz", token: nil).status == 200)
        // once the lock is released and the state reloaded, it is ready again.
        lock.release()
        try await cluster.waitUntil("the coordinator is ready again", timeout: .seconds(60), every: .milliseconds(200)) {
            (try? await Self.get(cluster.url + "/readyz", token: nil).status) == 200
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "needs curl"))
    func theMetricsListenerServesHTTPSWithTheGeneratedCABeyondLoopback() async throws {
        // Given the API on loopback (plain HTTP) and the metrics listener on every interface,
        let cluster = try await TestCluster.start(agents: 0, coordinatorArguments: ["--metrics-listen", "0.0.0.0:0"])
        defer { cluster.stopNow() }
        // it serves HTTPS with a certificate of the coordinator's own CA, which names the loopback address too,
        let url = try Self.metricsURL(of: cluster)
        #expect(url.hasPrefix("https://"), "\(url)")
        let local = url.replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1")
        let page = try Self.run("/usr/bin/curl", ["-sS", "--fail", "--cacert", cluster.dataDirectory + "/tls/ca.pem", local])
        #expect(page.status == 0 && page.output.contains("drover_store_available 1.0"), "\(page.output)")
        // and nothing in clear.
        #expect(try Self.run("/usr/bin/curl", ["-sS", "--fail", local.replacingOccurrences(of: "https://", with: "http://")]).status != 0)
    }

    @Test(.enabled(if: promtool != nil, "needs promtool: scripts/setup installs Debian's prometheus package, which has it"))
    func thePrometheusConfigAndAlertRulesPassPromtool() throws {
        let rules = try Self.run(Self.promtool!, ["check", "rules", Self.root + "/cluster/prometheus/alerts.yml"])
        #expect(rules.status == 0, "\(rules.output)")
        // The scrape config names a CA and a token file an admin provides: check it beside stand-ins for both.
        let directory = NSTemporaryDirectory() + "drover-prometheus-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for file in ["prometheus.yml", "alerts.yml"] {
            try FileManager.default.copyItem(atPath: Self.root + "/cluster/prometheus/" + file, toPath: directory + "/" + file)
        }
        for file in ["drover-ca.pem", "drover-admin.token"] { FileManager.default.createFile(atPath: directory + "/" + file, contents: Data()) }
        let config = try Self.run(Self.promtool!, ["check", "config", directory + "/prometheus.yml"])
        #expect(config.status == 0, "\(config.output)")
    }

    // MARK: - Helpers

    struct Sample: Decodable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// The samples of a page, as `prometheus_client.parser.text_string_to_metric_families` reads them.
    static func parse(_ page: String) throws -> [Sample] {
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            samples = [{"name": s.name, "labels": s.labels, "value": s.value}
                       for family in text_string_to_metric_families(sys.stdin.read()) for s in family.samples]
            print(json.dumps(samples))
            """
        let result = try run(python!, ["-c", script], input: page)
        guard result.status == 0 else { throw TestClusterError("prometheus_client could not parse the page: \(result.output)\n\(page)") }
        return try JSONDecoder().decode([Sample].self, from: Data(result.output.utf8))
    }

    /// The open metrics listener's URL, from the line the coordinator printed at start.
    static func metricsURL(of cluster: TestCluster) throws -> String {
        let log = try String(contentsOfFile: cluster.directory + "/coordinator.log", encoding: .utf8)
        guard let match = log.firstMatch(of: /serves metrics at (https?:\/\/[0-9.]+:[0-9]+\/metrics)/) else {
            throw TestClusterError("the coordinator printed no metrics address:\n\(log)")
        }
        return String(match.1)
    }

    static func get(_ url: String, token: String?) async throws -> (status: Int, contentType: String?, body: String) {
        var request = HTTPClientRequest(url: url)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), response.headers.first(name: "Content-Type"), String(buffer: body))
    }

    static func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe(), stdin = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
