import ArgumentParser
import DroverAPI
import DroverAgent
import DroverClient
import DroverCoordinator
import Foundation
import Logging
import ServiceLifecycle
import Yams

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "A whole cluster in one process on a temp dir: train a forecasting model, then score 24 shards.",
        discussion: """
            EXAMPLES:
              drover demo
              drover demo --keep
            """)

    @Option(help: "Directory holding forecast.py and the demo job specs' workloads (default: found from here or the binary).")
    var workloads: String?
    @Flag(help: "Keep the temp dir (database, agents' work dirs, forecasts) afterwards.")
    var keep = false

    func run() async throws {
        let logger = bootstrapLogging(level: ProcessInfo.processInfo.environment["DROVER_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning)
        let repo = try locateRepository()
        let root = NSTemporaryDirectory() + "drover-demo-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(atPath: root) } }
        // The workloads are copied beside the data: as root the agents run each task as a uid
        // of its own, which may not enter the checkout (a clone under /root, or in a 0700 dir).
        let home = root + "/workloads"
        try FileManager.default.copyItem(atPath: workloads ?? repo + "/cluster/demo", toPath: home)
        _ = chmod(root, 0o755)
        _ = chmod(home, 0o755)

        var configuration = CoordinatorConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.dataDirectory = root + "/coordinator"
        configuration.adminToken = "demo-admin-" + UUID().uuidString
        configuration.joinToken = "demo-join-" + UUID().uuidString
        configuration.heartbeatInterval = .seconds(1)
        configuration.leaseTTL = .seconds(5)
        configuration.costBookingInterval = .seconds(2) // running spend shows up while the demo runs
        let (addresses, addressSink) = AsyncStream.makeStream(of: String.self)
        let coordinator = try await buildCoordinator(configuration: configuration, logger: logger) { listening in
            addressSink.yield(listening.url)
            addressSink.finish()
        }
        let coordinatorGroup = ServiceGroup(configuration: .init(services: coordinator.services, logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await coordinatorGroup.run() }
            var iterator = addresses.makeAsyncIterator()
            guard let url = await iterator.next() else { throw CLIError("the coordinator did not start", status: .failure) }
            let agents = (1...3).map { index in
                var agent = AgentConfiguration()
                agent.coordinatorURL = url
                agent.joinToken = configuration.joinToken
                agent.name = "demo-node-\(index)"
                agent.cpu = 2
                agent.memoryBytes = 2 << 30
                agent.gpus = 0
                agent.labels = ["zone": ["a", "b", "c"][index - 1]]
                agent.prices = PriceRates(cpuHour: Decimal(string: "0.048")!, memoryGiBHour: Decimal(string: "0.006")!)
                agent.workDirectory = root + "/agent-\(index)"
                agent.killGrace = .seconds(2)
                return Agent(configuration: agent, logger: logger) as any Service
            }
            let agentGroup = ServiceGroup(configuration: .init(services: agents, logger: logger))
            let agentsRun = Task { try await agentGroup.run() }
            // The agents stop first (each tells the coordinator it leaves), then the coordinator.
            func stop() async {
                await agentGroup.triggerGracefulShutdown()
                _ = await agentsRun.result
                await coordinatorGroup.triggerGracefulShutdown()
            }
            do {
                try await runPipeline(url: url, adminToken: configuration.adminToken, repo: repo, home: home, root: root)
            } catch {
                await stop()
                throw error
            }
            await stop()
            try await agentsRun.value
            try await group.waitForAll()
        }
        if keep { print("\nEverything is kept in \(root) (database: \(root)/coordinator/drover.sqlite).") }
    }

    private func runPipeline(url: String, adminToken: String, repo: String, home: String, root: String) async throws {
        let client = DroverClient(baseURL: url, token: adminToken)
        print("Drover demo: a coordinator at \(url) and 3 agents (demo-node-1..3, 2 cores each) in this process, data in \(root)\n")
        // Where the jobs write the model and forecasts: open to every task, as /tmp is, since an
        // agent running as root runs each task as an unprivileged uid of its own.
        let data = root + "/data"
        for directory in [data, data + "/forecasts"] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            _ = chmod(directory, 0o1777)
        }
        var jobs: [JobView] = []
        // A budget admits only jobs it can price, at the rates of nodes that have registered.
        let registered = ContinuousClock.now
        while try await client.nodes().count < 3 {
            guard ContinuousClock.now - registered < .seconds(30) else { throw CLIError("the demo's agents did not register within 30 s", status: .failure) }
            try await Task.sleep(for: .milliseconds(50))
        }
        _ = try await client.setQuota(team: "forecasting", .object(["budget": .string("5/day")]))
        print("Team forecasting may spend 5 USD a day (`drover quota set forecasting --budget 5/day`).\n")
        for (step, file) in [("1/2 Training a demand-forecasting model (12 epochs, checkpoint each epoch)", "demo-train.yaml"),
                             ("2/2 Scoring 24 shards of stores with it (a batch job)", "demo-score.yaml")] {
            print("== \(step)")
            let spec = try loadSpec(repo + "/cluster/jobs/" + file, env: ["DEMO_HOME": home, "DEMO_HOME_DATA": data])
            let estimate = try await client.estimate(spec)
            print("estimate (`submit --dry-run`): \(estimate.estimate.map { Output.money($0) + " " + estimate.currency } ?? "unknown") — \(estimate.basis)")
            let submitted = try await client.submit(spec)
            print("submitted job \(submitted.id) (\(submitted.name), \(submitted.tasks.total) task(s))")
            let final = try await JobWatcher(client: client).follow(submitted.id, json: false, interruptible: false)
            jobs.append(final)
            try await summarize(final, client: client)
            guard final.state == .succeeded else {
                throw CLIError("job \(final.id) ended \(final.state): \(final.reason ?? ""); see `drover logs` with --keep", status: .failure)
            }
        }
        print("== Forecast report")
        let report = Process()
        report.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        report.arguments = ["python3", home + "/forecast.py", "report"]
        report.environment = ProcessInfo.processInfo.environment.merging(["DEMO_HOME_DATA": data]) { $1 }
        flushStandardOutput()
        try report.run()
        report.waitUntilExit()
        let total = jobs.reduce(Decimal(0)) { $0 + $1.cost }
        print("\n== Cost by job, from the ledger (`drover cost --by job`)")
        print(CostCommand.table(try await client.cost(by: "job")))
        print("\nDone: \(jobs.count) jobs, \(jobs.reduce(0) { $0 + ($1.attempts?.count ?? 0) }) attempts, cost \(Output.money(total)) USD in the agents' rates.")
    }

    private func summarize(_ job: JobView, client: DroverClient) async throws {
        let attempts = job.attempts ?? []
        let byNode = Dictionary(grouping: attempts, by: \.node).map { "\($0.key): \($0.value.count)" }.sorted().joined(separator: ", ")
        print("job \(job.id) \(job.state): \(job.tasks.succeeded)/\(job.tasks.total) tasks succeeded, \(attempts.count) attempt(s) [\(byNode)], cost \(Output.money(job.cost))")
        if job.kind == .training {
            let log = try await client.logs(job: job.id, task: 0)
            let lines = String(decoding: log.data, as: UTF8.self).split(separator: "\n").suffix(3)
            for line in lines { print("  | \(line)") }
        }
        print("")
    }

    private func loadSpec(_ path: String, env: [String: String]) throws -> JSONValue {
        let text = try readTextFile(path)
        guard case .object(var fields) = try JSONValue(any: try Yams.load(yaml: text)) else { throw CLIError("\(path): not a mapping", status: .invalidData) }
        var environment: [String: JSONValue] = [:]
        if case .object(let existing)? = fields["env"] { environment = existing }
        for (key, value) in env { environment[key] = .string(value) }
        fields["env"] = .object(environment)
        return .object(fields)
    }

    /// The checkout holding cluster/: searched upward from the working directory and from the binary.
    private func locateRepository() throws -> String {
        let starts = [FileManager.default.currentDirectoryPath, URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path]
        for start in starts {
            var url = URL(fileURLWithPath: start)
            for _ in 0..<8 {
                if FileManager.default.fileExists(atPath: url.path + "/cluster/demo/forecast.py") { return url.path }
                url.deleteLastPathComponent()
            }
        }
        throw CLIError("cannot find cluster/demo/forecast.py; run the demo from the Drover checkout or pass --workloads", status: .notFound)
    }
}
